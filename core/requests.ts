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
  /** DELTA: pages changed since the parent only (core/deltaPlan.ts); the parent is chosen by the workflow. */
  backupMode: 'FULL' | 'DELTA';
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

export interface DirMapping {
  old: string;
  new: string;
}

export interface RestoreRequest {
  backupPath: string;
  instance: string;
  /** Absent: the latest OK (or DONE) backup of the instance. */
  backupId?: string;
  /** Target data directory (-D, or the instance's pgdata). */
  pgdata: string;
  /** The instance's system identifier from pg_probackup.conf: the backup must match it. */
  systemIdentifier: string;
  threads: number;
  tablespaceMapping: DirMapping[];
  externalMapping: DirMapping[];
  skipExternalDirs: boolean;
  force: boolean;
  noValidate: boolean;
  noSync: boolean;
  skipBlockValidation: boolean;
  rwTimeoutSec: number;
  /** Recovery settings written for PostgreSQL 15 (postgresql.auto.conf + recovery.signal). */
  recovery?: {
    targetTime?: string;
    targetXid?: string;
    targetLsn?: string;
    targetName?: string;
    targetInclusive?: boolean;
    targetTimeline?: string;
    targetAction?: string;
    targetImmediate?: boolean;
    restoreCommand?: string;
  };
  /**
   * -R: the restored cluster starts as a standby (standby.signal) streaming from primary_conninfo:
   * this one, or the connection the backup recorded.
   */
  replica?: { primaryConninfo?: string; primarySlotName?: string };
  /** --db-include / --db-exclude: the other databases' files are left empty (database_map). */
  partial?: { include?: string[]; exclude?: string[] };
}

export interface RestoreResult {
  backupId: string;
  pgdata: string;
  files: number;
  bytes: number;
}
