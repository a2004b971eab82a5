/** Catalog vocabulary shared by pg_probackup and gs_probackup (spec §3, §11). */
export const BACKUP_STATUSES = [
  'OK', 'ERROR', 'RUNNING', 'MERGING', 'MERGED', 'DELETING', 'DELETED', 'DONE', 'ORPHAN', 'CORRUPT',
] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number] | 'UNKNOWN';

/** FULL and PTRACK are gs_probackup's; PAGE and DELTA are accepted for pg_probackup users. */
export const BACKUP_MODES = ['FULL', 'PAGE', 'PTRACK', 'DELTA'] as const;
export type BackupMode = (typeof BACKUP_MODES)[number];

export const COMPRESS_ALGS = ['none', 'zlib', 'pglz'] as const;
export type CompressAlg = (typeof COMPRESS_ALGS)[number];

export const BLCKSZ = 8192;
export const XLOG_BLCKSZ = 8192;
export const RELSEG_SIZE = 131072;
export const DEFAULT_XLOG_SEG_SIZE = 16 * 1024 * 1024;

/** Version written as program-version; pg_probackup readers compare it with their own. */
export const PROGRAM_VERSION = '2.5.16';
export const PROGRAM_NAME = 'gs_probackup';
