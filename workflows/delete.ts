/**
 * delete -i ID as a workflow (ID delete/<instance>: one delete of an instance at a time): each
 * backup, newest first, is deleted by one retriable activity. Which backups to delete, and that no
 * running workflow uses them, the CLI decides before starting it (client/commands/delete.ts).
 */
import { proxyActivities } from '@temporalio/workflow';
import type * as catalogActivities from '../activities/catalog';
import { trackProgress } from './progress';

export interface DeleteRequest {
  backupPath: string;
  instance: string;
  /** Newest first (descendants before their parents); `recoveryTime` as pg_probackup prints it. */
  backups: { id: string; dir: string; recoveryTime: string }[];
}

export interface DeleteResult {
  deleted: string[];
}

/** Deleting a backup's files: an hour at most, heartbeating, retried. */
export const DELETING = {
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
} as const;

export async function deleteWorkflow(req: DeleteRequest): Promise<DeleteResult> {
  const catalog = proxyActivities<typeof catalogActivities>(DELETING);
  const { progress, log } = trackProgress('delete', 'deleting', { filesTotal: req.backups.length });
  const deleted: string[] = [];
  for (const b of req.backups) {
    log(`INFO: Delete: ${b.id} ${b.recoveryTime}`);
    await catalog.deleteBackupFiles({ backupDir: b.dir });
    deleted.push(b.id);
    progress.filesDone++;
  }
  progress.phase = 'done';
  return { deleted };
}
