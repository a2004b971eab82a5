/**
 * Restore as a Temporal workflow: check and lay out (prepareRestore refuses before writing),
 * validate the backup unless --no-validate, copy batches -j at a time, then recovery settings and
 * fsync. The file list stays inside the target directory; the workflow moves only numbers.
 */
import { ApplicationFailure, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as catalogActivities from '../activities/catalog';
import type * as restoreActivities from '../activities/restore';
import type { RestoreRequest, RestoreResult } from '../core/requests';
import { prettySize } from '../core/show';
import { chainFailureMessage, validateChain } from './chainValidation';
import { progressQuery, type Progress } from './progress';

export async function restoreWorkflow(req: RestoreRequest): Promise<RestoreResult> {
  const nonRetryableErrorTypes = ['RestoreRefused', 'BadMapping', 'BackupCorrupt'];
  const short = proxyActivities<typeof restoreActivities>({
    startToCloseTimeout: '10 minutes',
    retry: { maximumAttempts: 10, nonRetryableErrorTypes },
  });
  const long = proxyActivities<typeof restoreActivities>({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: `${Math.max(5, req.rwTimeoutSec)} seconds`,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20, nonRetryableErrorTypes },
  });
  const catalog = proxyActivities<typeof catalogActivities>({ startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 10 } });
  const progress: Progress = { operation: 'restore', phase: 'starting', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, log: [] };
  setHandler(progressQuery, () => progress);
  const log = (line: string) => progress.log.push(line);

  progress.phase = 'checking';
  const plan = await short.prepareRestore(req);
  const id = plan.backupId;
  progress.backupId = id;
  if (!req.noValidate) {
    // An incremental backup is as good as its chain: every member is checked, FULL first.
    progress.phase = 'validating';
    if (plan.backups.length > 1) log(`INFO: Validating parents for backup ${id}`);
    const v = await validateChain({
      backupPath: req.backupPath,
      instance: req.instance,
      members: plan.backups,
      skipBlockValidation: req.skipBlockValidation,
      threads: req.threads,
      catalog,
      checker: long,
      log,
    });
    if (!v.ok) throw ApplicationFailure.nonRetryable(chainFailureMessage(id, v.bad!), 'BackupCorrupt');
    log(`INFO: Backup ${id} is valid.`);
  }
  log(`INFO: Restoring the database from backup ${id} into "${req.pgdata}"`);
  log(`INFO: Start restoring backup files. PGDATA size: ${prettySize(plan.pgdataBytes)}`);
  progress.phase = 'copying';
  progress.filesTotal = plan.nFiles;
  progress.bytesTotal = plan.totalBytes;
  const started = Date.now();
  let next = 0;
  const lane = async () => {
    while (next < plan.nBatches) {
      const batchNo = next++;
      const r = await long.restoreBatch({ pgdata: req.pgdata, batchNo, noSync: req.noSync, threads: req.threads });
      progress.filesDone += r.files;
      progress.bytesDone += r.bytes;
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, req.threads), plan.nBatches) }, lane));
  const secs = Math.round((Date.now() - started) / 1000);
  log(`INFO: Backup files are restored. Transfered bytes: ${prettySize(progress.bytesDone)}, time elapsed: ${secs}s`);
  progress.phase = 'syncing';
  await short.finishRestore({ pgdata: req.pgdata, noSync: req.noSync, recovery: req.recovery });
  if (!req.noSync) log('INFO: Syncing restored files to disk');
  log(`INFO: Restore of backup ${id} completed.`);
  progress.phase = 'done';
  return { backupId: id, pgdata: req.pgdata, files: progress.filesDone, bytes: progress.bytesDone };
}
