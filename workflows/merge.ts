/**
 * merge -i ID as a workflow (ID merge/<instance>/<ID>): validate the chain, mark it MERGING, copy
 * into a staging area in batches, commit, delete the incrementals, rename, validate the result —
 * every step an idempotent activity (activities/merge), so that a merge whose worker is killed
 * anywhere ends, when run again, with the same backup. Which chain the request means, and that no
 * running workflow uses it, the CLI decides before starting it (client/commands/merge.ts).
 */
import { ApplicationFailure, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as catalogActivities from '../activities/catalog';
import type * as mergeActivities from '../activities/merge';
import type * as restoreActivities from '../activities/restore';
import { prettyDuration } from '../core/show';
import { chainFailureMessage, validateChain } from './chainValidation';
import { progressQuery, type Progress } from './progress';

export interface MergeRequest {
  backupPath: string;
  instance: string;
  /** The destination: the merged FULL backup gets its ID. */
  backupId: string;
  fullId: string;
  /** Where the FULL backup is now (the destination's directory once a previous run renamed it). */
  fullDir: string;
  /** The incremental backups still present, oldest first. */
  incrementals: { id: string; dir: string }[];
  /** Every backup of the chain: client/backupUsers.ts refuses a delete or restore of any of them meanwhile. */
  backups: { id: string }[];
  /** From core/mergePlan.resolveMergeTarget: merged = only deleting and renaming are left. */
  state: 'fresh' | 'retry' | 'merged';
  threads: number;
  noValidate: boolean;
  noSync: boolean;
}

export interface MergeResult {
  backupId: string;
  status: string;
  deleted: string[];
}

export async function mergeWorkflow(req: MergeRequest): Promise<MergeResult> {
  const nonRetryableErrorTypes = ['MergeRefused', 'BackupCorrupt'];
  const catalog = proxyActivities<typeof catalogActivities>({ startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 10, nonRetryableErrorTypes } });
  // A killed worker's activity is retried elsewhere once it misses its heartbeats for this long.
  const long = {
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20, nonRetryableErrorTypes },
  } as const;
  const merge = proxyActivities<typeof mergeActivities>(long);
  const checker = proxyActivities<typeof restoreActivities>({ ...long, heartbeatTimeout: '2 minutes' as const });
  const progress: Progress = { operation: 'merge', phase: 'starting', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, log: [], backupId: req.backupId };
  setHandler(progressQuery, () => progress);
  const log = (l: string) => progress.log.push(l);
  const id = req.backupId;
  const destDir = `${req.backupPath}/backups/${req.instance}/${id}`;

  let merged = req.state === 'merged';
  if (!merged) {
    log(req.state === 'retry' ? `INFO: Retry failed merge of backup ${id} with parent chain` : `INFO: Merging backup ${id} with parent chain`);
    const members = [{ id: req.fullId, dir: req.fullDir }, ...req.incrementals];
    if (!req.noValidate) {
      // A FULL backup in MERGING state is not valid until the merge ends: the retry skips it.
      progress.phase = 'validating';
      log(`INFO: Validate parent chain for backup ${id}`);
      const v = await validateChain({
        backupPath: req.backupPath,
        instance: req.instance,
        members,
        skipBlockValidation: false,
        threads: req.threads,
        catalog,
        checker,
        log,
        skip: (m) => m === req.fullId && req.state === 'retry',
      });
      if (!v.ok) {
        throw ApplicationFailure.nonRetryable(`Backup ${v.bad!.id} has status CORRUPT, merge is aborted: ${chainFailureMessage(id, v.bad!)}`, 'BackupCorrupt');
      }
    }
    const begun = await merge.beginMerge({ fullDir: req.fullDir, destId: id, incrementals: req.incrementals });
    merged = begun.fullStatus === 'MERGED';
    if (!merged) {
      progress.phase = 'planning';
      const plan = await merge.planMerge({ fullDir: req.fullDir, destId: id, members });
      progress.filesTotal = plan.nFiles;
      progress.bytesTotal = plan.totalBytes;
      if (!plan.committing) {
        progress.phase = 'merging';
        log('INFO: Start merging backup files');
        const started = Date.now();
        let next = 0;
        const lane = async () => {
          while (next < plan.nBatches) {
            const r = await merge.mergeBatch({ fullDir: req.fullDir, batchNo: next++, noSync: req.noSync, threads: req.threads });
            progress.filesDone += r.files;
            progress.bytesDone += r.bytes;
          }
        };
        await Promise.all(Array.from({ length: Math.min(Math.max(1, req.threads), plan.nBatches) }, lane));
        log(`INFO: Backup files are successfully merged, time elapsed: ${prettyDuration(Math.round((Date.now() - started) / 1000))}`);
      }
      progress.phase = 'committing';
      await merge.commitMerge({ fullDir: req.fullDir, destId: id, noSync: req.noSync });
    }
  }

  progress.phase = 'deleting';
  const fin = await merge.finishMerge({
    backupPath: req.backupPath,
    instance: req.instance,
    fullDir: req.fullDir,
    destId: id,
    incrementals: req.incrementals,
    noSync: req.noSync,
  });
  for (const d of fin.deleted) log(`INFO: Delete: ${d.id}`);
  if (fin.renamedFrom) log(`INFO: Rename merged full backup ${fin.renamedFrom} to ${id}`);

  let status = 'OK';
  if (!req.noValidate) {
    progress.phase = 'validating';
    log(`INFO: Validating backup ${id}`);
    const v = await checker.validateBackupForRestore({ backupPath: req.backupPath, instance: req.instance, backupId: id, skipBlockValidation: false, threads: req.threads });
    status = v.ok ? 'OK' : 'CORRUPT';
    await catalog.setBackupStatus({ backupDir: destDir, status: v.ok ? 'OK' : 'CORRUPT' });
    if (!v.ok) {
      for (const e of v.errors.slice(0, 20)) log(`WARNING: ${e}`);
      throw ApplicationFailure.nonRetryable(`Merging of backup ${id} failed: the merged backup is corrupt: ${v.errors[0]}`, 'BackupCorrupt');
    }
    log(`INFO: Backup ${id} data files are valid`);
  }
  log(`INFO: Merge of backup ${id} completed`);
  progress.phase = 'done';
  return { backupId: id, status, deleted: fin.deleted.map((d) => d.id) };
}
