/**
 * backup.control (spec §3): the model and its text form. parse/serialize are the single source of
 * truth for the file; `show` renders from the same model.
 */
import type { BackupId } from './backupId';
import type { Lsn } from './lsn';
import type { BackupMode, BackupStatus, CompressAlg } from './types';

export interface BackupControl {
  backupMode: BackupMode;
  stream: boolean;
  compressAlg: CompressAlg;
  compressLevel: number;
  fromReplica: boolean;
  blockSize: number;
  xlogBlockSize: number;
  checksumVersion: number;
  programVersion: string;
  serverVersion: string;
  timelineId: number;
  startLsn: Lsn;
  stopLsn: Lsn;
  /** Unix seconds; equals the backup ID. */
  startTime: number;
  mergeTime?: number;
  endTime?: number;
  recoveryXid: number;
  recoveryTime?: number;
  expireTime?: number;
  recoveryName?: string;
  mergeDestId?: BackupId;
  dataBytes?: number;
  walBytes?: number;
  uncompressedBytes?: number;
  pgdataBytes?: number;
  status: BackupStatus;
  parentBackupId?: BackupId;
  primaryConninfo?: string;
  externalDirs?: string[];
  note?: string;
  contentCrc?: number;
}

export function backupIdOf(control: BackupControl): BackupId {
  return control.startTime.toString(36).toUpperCase() as BackupId;
}
