/**
 * Inputs and results of the workflows. They are plain JSON (Temporal's Web UI starts a workflow with
 * one JSON object) and carry no secrets: passwords come from the worker's environment or .pgpass.
 */
import type { CompressAlg } from './types';

export interface PgConnection {
  pghost?: string;
  pgport?: number;
  pguser?: string;
  pgdatabase?: string;
}

export interface BackupRequest {
  backupPath: string;
  instance: string;
  backupMode: 'FULL';
  /** From pg_probackup.conf / -D. */
  pgdata: string;
  systemIdentifier: string;
  xlogSegSize: number;
  connection: PgConnection;
  threads: number;
  smoothCheckpoint: boolean;
  slot?: string;
  tempSlot: boolean;
  backupPgLog: boolean;
  backupPgReplslot: boolean;
  externalDirs: string[];
  noValidate: boolean;
  noSync: boolean;
  skipBlockValidation: boolean;
  note?: string;
  compressAlg: CompressAlg;
  compressLevel: number;
  archiveTimeoutSec: number;
  rwTimeoutSec: number;
  /** Pinning: seconds added to recovery-time, or an absolute Unix time. */
  ttlSec?: number;
  expireTime?: number;
  /** Set by the CLI so `show` can print the start in the user's words; not required. */
  startedBy?: string;
}

export interface BackupResult {
  backupId: string;
  status: string;
  startLsn: string;
  stopLsn: string;
  dataBytes: number;
  walBytes: number;
}
