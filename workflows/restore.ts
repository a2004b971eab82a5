/**
 * Restore as a Temporal workflow: check and lay out (prepareRestore refuses before writing),
 * validate the backup unless --no-validate (a FULL backup as it is restored), copy batches -j at a
 * time, then recovery settings and fsync. A backup found corrupt leaves nothing in the target. The
 * file list stays inside the target directory; the workflow moves only numbers.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type * as catalogActivities from '../activities/catalog';
import type * as restoreActivities from '../activities/restore';
import type { RestoreRequest, RestoreResult } from '../core/requests';
import { prettySize } from '../core/show';
import { chainFailureMessage, markCorrupt, markValid, validateChain } from './chainValidation';
import { progressQuery, type Progress } from './progress';

export async function restoreWorkflow(req: RestoreRequest): Promise<RestoreResult> {
  const nonRetryableErrorTypes = ['RestoreRefused', 'BadMapping', 'BackupCorrupt'];
  // Short steps run as local activities, on the worker that runs this workflow: no round trip
  // through the server's queue for each.
  const short = proxyLocalActivities<typeof restoreActivities>({
    startToCloseTimeout: '10 minutes',
    retry: { maximumAttempts: 10, nonRetryableErrorTypes },
  });
  const long = proxyActivities<typeof restoreActivities>({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: `${Math.max(5, req.rwTimeoutSec)} seconds`,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20, nonRetryableErrorTypes },
  });
  const catalog = proxyLocalActivities<typeof catalogActivities>({ startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 10 } });
  const progress: Progress = { operation: 'restore', phase: 'starting', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, log: [] };
  setHandler(progressQuery, () => progress);
  const log = (line: string) => progress.log.push(line);

  progress.phase = 'checking';
  const plan = await short.prepareRestore(req);
  const id = plan.backupId;
  progress.backupId = id;
  const target = plan.backups[plan.backups.length - 1];
  /**
   * The backup turned out corrupt: take back what the restore wrote, as validating first would
   * have left the target, and mark the backup. A chain's damaged file may be any member's (its
   * path says which): only a FULL backup is marked here.
   */
  const giveUp = async (errors: string[]): Promise<never> => {
    progress.phase = 'abandoning';
    await short.abandonRestore({ pgdata: req.pgdata });
    if (plan.backups.length === 1) await markCorrupt({ ...req, catalog, log }, target, errors);
    else for (const e of errors.slice(0, 20)) log(`WARNING: ${e}`);
    throw ApplicationFailure.nonRetryable(`${chainFailureMessage(id, { id, errors })}; the restore took back what it had written into "${req.pgdata}"`, 'BackupCorrupt');
  };
  // A FULL backup's every file is read by the restore, which checks it as validate would as it
  // goes: the backup is read once, not twice. A chain is validated first, member by member, since
  // the restore reads only the newest copy of each file.
  const checkWhileRestoring = !req.noValidate && plan.backups.length === 1;
  if (!req.noValidate) {
    progress.phase = 'validating';
    if (checkWhileRestoring) {
      log(`INFO: Validating backup ${id}`);
      if (plan.listProblems.length > 0) await giveUp(plan.listProblems);
    } else {
      // An incremental backup is as good as its chain: every member is checked, FULL first.
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
      if (!v.ok) {
        await short.abandonRestore({ pgdata: req.pgdata }); // the layout prepareRestore made
        throw ApplicationFailure.nonRetryable(chainFailureMessage(id, v.bad!), 'BackupCorrupt');
      }
      log(`INFO: Backup ${id} is valid.`);
    }
  }
  log(`INFO: Restoring the database from backup ${id} into "${req.pgdata}"`);
  if (plan.excludedDatabases) {
    log(`INFO: Partial restore: the files of the databases with OIDs ${plan.excludedDatabases.join(', ')} are left empty; drop those databases once the cluster is up`);
  }
  log(`INFO: Start restoring backup files. PGDATA size: ${prettySize(plan.pgdataBytes)}`);
  progress.phase = 'copying';
  progress.filesTotal = plan.nFiles;
  progress.bytesTotal = plan.totalBytes;
  const started = Date.now();
  const validate = checkWhileRestoring ? { blockValidation: !req.skipBlockValidation } : undefined;
  let next = 0;
  let failed = false;
  const lane = async () => {
    // After a failure no batch starts; those running end before the failure is handled.
    while (!failed && next < plan.nBatches) {
      const batchNo = next++;
      try {
        const r = await long.restoreBatch({ pgdata: req.pgdata, batchNo, noSync: req.noSync, threads: req.threads, validate });
        progress.filesDone += r.files;
        progress.bytesDone += r.bytes;
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(Math.max(1, req.threads), plan.nBatches) }, lane));
  const failure = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected')?.reason;
  if (failure) {
    const corrupt = failure instanceof ActivityFailure && failure.cause instanceof ApplicationFailure && failure.cause.type === 'BackupCorrupt' ? failure.cause : null;
    if (!corrupt) throw failure;
    await giveUp([corrupt.message]); // with or without --no-validate: the backup is corrupt
  }
  if (checkWhileRestoring) {
    await markValid(catalog, target);
    log(`INFO: Backup ${id} data files are valid`);
    log(`INFO: Backup ${id} is valid.`);
  }
  const secs = Math.round((Date.now() - started) / 1000);
  log(`INFO: Backup files are restored. Transfered bytes: ${prettySize(progress.bytesDone)}, time elapsed: ${secs}s`);
  progress.phase = 'syncing';
  const finished = await short.finishRestore({ pgdata: req.pgdata, noSync: req.noSync, recovery: req.recovery, replica: req.replica });
  // A run started before finishRestore said anything replays its result as nothing.
  for (const line of finished?.log ?? []) log(line);
  if (!req.noSync) log('INFO: Syncing restored files to disk');
  log(`INFO: Restore of backup ${id} completed.`);
  progress.phase = 'done';
  return { backupId: id, pgdata: req.pgdata, files: progress.filesDone, bytes: progress.bytesDone };
}
