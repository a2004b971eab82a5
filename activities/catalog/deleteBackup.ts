/**
 * Deleting one backup (pg_probackup's delete_backup_files): status DELETING first, so that a
 * reader that opens it meanwhile (restore, validate, show) sees it is going away, then the whole
 * directory. Idempotent: a retry, or a re-run after a killed delete, finds a DELETING backup or
 * nothing and finishes the job.
 */
import * as fs from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import { catalogPaths } from '../../core/catalogPaths';
import { readBackupControl, writeBackupControl } from './backupCatalog';

export async function deleteBackupFiles(input: { backupDir: string }): Promise<{ removed: boolean }> {
  try {
    await fs.access(input.backupDir);
  } catch {
    return { removed: false };
  }
  try {
    const control = await readBackupControl(input);
    if (control.status !== 'DELETING') {
      control.status = 'DELETING';
      await writeBackupControl({ backupDir: input.backupDir, control });
    }
  } catch {
    // An unreadable backup.control (a broken backup) is deleted all the same.
  }
  // backup.control goes last: until then the directory still says DELETING to anyone who looks.
  for (const entry of await fs.readdir(input.backupDir)) {
    if (entry === 'backup.control') continue;
    Context.current().heartbeat(entry);
    await fs.rm(`${input.backupDir}/${entry}`, { recursive: true, force: true, maxRetries: 3 });
  }
  await fs.rm(catalogPaths.backupControl(input.backupDir), { force: true });
  await fs.rm(input.backupDir, { recursive: true, force: true });
  return { removed: true };
}
