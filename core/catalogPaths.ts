import * as path from 'node:path';
import type { BackupId } from './backupId';

/** The catalog layout of spec §1. Pure path arithmetic; nothing here touches the disk. */
export const catalogPaths = {
  backupsRoot: (backupPath: string) => path.join(backupPath, 'backups'),
  walRoot: (backupPath: string) => path.join(backupPath, 'wal'),
  instanceDir: (backupPath: string, instance: string) => path.join(backupPath, 'backups', instance),
  instanceWalDir: (backupPath: string, instance: string) => path.join(backupPath, 'wal', instance),
  instanceConfig: (backupPath: string, instance: string) =>
    path.join(backupPath, 'backups', instance, 'pg_probackup.conf'),
  backupDir: (backupPath: string, instance: string, id: BackupId) => path.join(backupPath, 'backups', instance, id),
  backupControl: (backupDir: string) => path.join(backupDir, 'backup.control'),
  backupContent: (backupDir: string) => path.join(backupDir, 'backup_content.control'),
  pageHeaderMap: (backupDir: string) => path.join(backupDir, 'page_header_map'),
  databaseDir: (backupDir: string) => path.join(backupDir, 'database'),
  externalDir: (backupDir: string, n: number) => path.join(backupDir, 'external_directories', `externaldir${n}`),
  /** State the Temporal-based tool keeps next to pg_probackup's files (file lists, session info). */
  stateDir: (backupDir: string) => path.join(backupDir, '.gs_probackup'),
  /** Embedded Temporal dev server state (embedded mode), under the catalog. */
  temporalDir: (backupPath: string) => path.join(backupPath, '.temporal'),
  logDir: (backupPath: string) => path.join(backupPath, 'log'),
};
