/**
 * delete --delete-expired / --merge-expired as a workflow (ID delete/<instance>, shared with
 * delete -i: one delete of an instance at a time), pg_probackup's do_retention. An activity reads
 * the catalog and the policy and plans (core/retention.ts) at the workflow's clock; each kept
 * backup whose FULL backup expired absorbs its chain by a child merge workflow; each expired
 * backup nothing kept needs is deleted by a retriable activity. Backups a running workflow uses
 * are skipped with a warning. Runs from the CLI, after a backup that asks for it, or from a
 * Temporal Schedule with the one JSON argument below.
 */
import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as catalogActivities from '../activities/catalog';
import type { BackupStatus } from '../core/types';
import { workflowIds } from '../core/workflowIds';
import { mergeWorkflow } from './merge';
import { DELETING } from './delete';
import { trackProgress } from './progress';

export interface RetentionRequest {
  backupPath: string;
  instance: string;
  deleteExpired: boolean;
  mergeExpired: boolean;
  /**
   * Purge the instance's WAL archive (wal/<instance>) of what no backup left needs, after the
   * backups retention deletes (core/walPurge.ts).
   */
  deleteWal?: boolean;
  /** Evaluate and report only. */
  dryRun?: boolean;
  /** Over pg_probackup.conf's retention-redundancy, retention-window and wal-depth. */
  redundancy?: number;
  windowDays?: number;
  walDepth?: number;
  /** For the merges. */
  threads?: number;
  noValidate?: boolean;
  noSync?: boolean;
}

export interface RetentionResult {
  expired: string[];
  merged: string[];
  deleted: string[];
  skipped: string[];
}

export async function retentionWorkflow(req: RetentionRequest): Promise<RetentionResult> {
  const catalog = proxyActivities<typeof catalogActivities>(DELETING);
  const { progress, log } = trackProgress('delete', 'evaluating');
  const result: RetentionResult = { expired: [], merged: [], deleted: [], skipped: [] };

  const plan = await catalog.planInstanceRetention({
    backupPath: req.backupPath,
    instance: req.instance,
    ...(req.redundancy !== undefined ? { redundancy: req.redundancy } : {}),
    ...(req.windowDays !== undefined ? { windowDays: req.windowDays } : {}),
    now: Math.floor(Date.now() / 1000),
    mergeExpired: req.mergeExpired,
    deleteExpired: req.deleteExpired,
    threads: req.threads ?? 1,
    noValidate: req.noValidate ?? false,
    noSync: req.noSync ?? false,
  });
  const purgeWal = async () => {
    if (!req.deleteWal) return;
    const wal = await catalog.purgeWalArchive({
      backupPath: req.backupPath,
      instance: req.instance,
      dryRun: req.dryRun ?? false,
      ...(req.walDepth !== undefined ? { walDepth: req.walDepth } : {}),
    });
    for (const l of wal.lines) log(`${l.level}: ${l.text}`);
    if (!wal.skipped && wal.removable === 0) log('INFO: There is no WAL to purge by retention policy');
  };
  const dry = req.dryRun ?? false;
  const expiring = req.deleteExpired || req.mergeExpired;
  if (expiring && plan.policy.redundancy > 0) log(`LOG: REDUNDANCY=${plan.policy.redundancy}`);
  if (expiring && plan.policy.windowDays > 0) log(`LOG: WINDOW=${plan.policy.windowDays}`);
  if (expiring && plan.policy.redundancy === 0 && plan.policy.windowDays === 0) {
    log('WARNING: Retention policy is not set');
    if (!req.deleteWal) {
      progress.phase = 'done';
      return result;
    }
  } else if (expiring && plan.backupCount === 0) {
    log('WARNING: Backup list is empty, retention purge and merge are problematic');
  }
  for (const l of plan.lines) log(`${l.level}: ${l.text}`);
  result.expired = plan.expired;

  const running = plan.purge.filter((p) => p.status === 'RUNNING').map((p) => p.id);
  const inUse = async (ids: string[]) =>
    new Map(ids.length === 0 ? [] : (await catalog.backupsInUse({ instance: req.instance, ids, running })).map((u) => [u.id, u.workflowId]));
  const used = await inUse(dry ? [] : [...plan.merges.flatMap((m) => m.backups.map((b) => b.id)), ...plan.purge.map((p) => p.id)]);

  if (req.mergeExpired && !dry) {
    progress.phase = 'merging';
    for (const m of plan.merges) {
      const busy = m.backups.find((b) => used.has(b.id));
      if (busy) {
        log(`WARNING: Cannot lock backup ${busy.id} directory, skip merging of backup ${m.backupId}: workflow ${used.get(busy.id)} uses it`);
        result.skipped.push(m.backupId);
        continue;
      }
      const child = await executeChild(mergeWorkflow, {
        workflowId: workflowIds.merge(req.instance, m.backupId),
        args: [m],
        taskQueue: workflowInfo().taskQueue,
        searchAttributes: { BackupInstance: [req.instance], BackupOperation: ['merge'], BackupId: [m.backupId] },
      });
      log(`INFO: Backup ${child.backupId} merged by retention, status ${child.status}`);
      result.merged.push(child.backupId);
    }
    log('INFO: Retention merging finished');
  }
  if (req.deleteExpired && !dry) {
    progress.phase = 'deleting';
    progress.filesTotal = plan.purge.length;
    const skip = (id: string, user: string) => {
      log(`WARNING: Cannot lock backup ${id} directory, skip purging: workflow ${user} uses it`);
      result.skipped.push(id);
    };
    // DELETING first, then look again, as delete -i does: a restore or validate that starts from
    // now on refuses the backup, and one that started before the mark is seen by the second look.
    // (A backup.control that cannot be read has no status to mark; it is deleted all the same.)
    const marked: { b: (typeof plan.purge)[number]; before: BackupStatus }[] = [];
    for (const b of plan.purge) {
      const user = used.get(b.id);
      if (user) skip(b.id, user);
      else marked.push({ b, before: b.status === 'UNKNOWN' ? b.status : await catalog.setBackupStatus({ backupDir: b.dir, status: 'DELETING' }) });
    }
    const late = await inUse(marked.map((m) => m.b.id));
    for (const { b, before } of marked) {
      const user = late.get(b.id);
      if (user) {
        if (before !== 'UNKNOWN') await catalog.setBackupStatus({ backupDir: b.dir, status: before, onlyFrom: ['DELETING'] });
        skip(b.id, user);
        continue;
      }
      log(`INFO: Delete: ${b.id} ${b.recoveryTime}`);
      await catalog.deleteBackupFiles({ backupDir: b.dir });
      result.deleted.push(b.id);
      progress.filesDone++;
    }
  }
  await purgeWal();
  if (result.merged.length === 0) log('INFO: There are no backups to merge by retention policy');
  log(result.deleted.length > 0 ? 'INFO: Purging finished' : 'INFO: There are no backups to delete by retention policy');
  progress.phase = 'done';
  return result;
}
