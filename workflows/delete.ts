/**
 * delete -i ID as a workflow (ID delete/<instance>: one delete of an instance at a time): each
 * backup, newest first, is deleted by one retriable activity. Which backups to delete, and that no
 * running workflow uses them, the CLI decides before starting it (client/commands/delete.ts).
 */
import { proxyActivities, setHandler } from '@temporalio/workflow';
import type * as catalogActivities from '../activities/catalog';
import { progressQuery, type Progress } from './progress';

export interface DeleteRequest {
  backupPath: string;
  instance: string;
  /** Newest first (descendants before their parents); `recoveryTime` as pg_probackup prints it. */
  backups: { id: string; dir: string; recoveryTime: string }[];
}

export interface DeleteResult {
  deleted: string[];
}

export async function deleteWorkflow(req: DeleteRequest): Promise<DeleteResult> {
  const catalog = proxyActivities<typeof catalogActivities>({
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
  });
  const progress: Progress = {
    operation: 'delete', phase: 'deleting', filesDone: 0, filesTotal: req.backups.length, bytesDone: 0, bytesTotal: 0, log: [],
  };
  setHandler(progressQuery, () => progress);
  const deleted: string[] = [];
  for (const b of req.backups) {
    progress.log.push(`INFO: Delete: ${b.id} ${b.recoveryTime}`);
    await catalog.deleteBackupFiles({ backupDir: b.dir });
    deleted.push(b.id);
    progress.filesDone++;
  }
  progress.phase = 'done';
  return { deleted };
}
