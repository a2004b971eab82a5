import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { backupIdToTime, type BackupId } from '../core/backupId';
import { parseBackupControl, type BackupControl } from '../core/backupControl';
import { catalogPaths } from '../core/catalogPaths';
import type { Logger } from './logger';

export interface ListedBackup {
  id: BackupId;
  dir: string;
  /** null when backup.control is missing or unreadable: the backup shows as UNKNOWN. */
  control: BackupControl | null;
}

/** The backups of an instance, newest first (spec §1: dot-names and plain files are ignored). */
export async function listBackups(backupPath: string, instance: string, logger: Logger): Promise<ListedBackup[]> {
  const instDir = catalogPaths.instanceDir(backupPath, instance);
  const entries = await fs.readdir(instDir, { withFileTypes: true });
  const out: ListedBackup[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const time = backupIdToTime(e.name);
    if (time === null) continue;
    const dir = path.join(instDir, e.name);
    const file = catalogPaths.backupControl(dir);
    let control: BackupControl | null = null;
    try {
      control = parseBackupControl(await fs.readFile(file, 'utf8'), file);
    } catch (err) {
      logger.warning(`cannot read backup.control of backup ${e.name}: ${(err as Error).message}`);
    }
    const id = (control ? control.startTime.toString(36).toUpperCase() : e.name.toUpperCase()) as BackupId;
    if (control && id !== e.name) logger.warning(`backup ID in "${file}" is ${id}, the directory is ${e.name}`);
    out.push({ id, dir, control });
  }
  out.sort((a, b) => (backupIdToTime(b.id) ?? 0) - (backupIdToTime(a.id) ?? 0));
  return out;
}
