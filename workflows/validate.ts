/**
 * validate as a workflow: each backup's files, pages and WAL are checked by one retriable activity
 * (resumable per backup), and its status becomes OK or CORRUPT. Backups in other states are skipped.
 * With a recovery target, as pg_probackup's do_restore_or_validate: the backup to check is the
 * newest OK/DONE one (or -i) whose WAL reaches the target; the WAL is read first (cheap), then
 * that backup's files are validated.
 */
import { proxyActivities } from '@temporalio/workflow';
import type * as catalogActivities from '../activities/catalog';
import type * as restoreActivities from '../activities/restore';
import type { TargetSpec, TargetVerdict } from '../core/recoveryTargetReport';
import { validateChain } from './chainValidation';
import { trackProgress } from './progress';

export interface ValidateRequest {
  backupPath: string;
  instance: string;
  /** Absent: every backup of the instance. */
  backupId?: string;
  skipBlockValidation: boolean;
  threads: number;
  /** A recovery target: find the backup whose own WAL reaches it, and validate that backup. */
  target?: TargetSpec;
}

export interface ValidateResult {
  valid: string[];
  corrupt: { id: string; errors: string[] }[];
  skipped: string[];
  /** Backups found with a missing or invalid ancestor (pg_probackup's warning says which); the OK ones became ORPHAN. */
  orphan: { id: string; message: string }[];
  /** With a target: what each backup tried (newest first) can do, and the backup that reaches it. */
  target?: { verdicts: TargetVerdict[]; dest?: string };
}

const VALIDATABLE = new Set(['OK', 'DONE', 'CORRUPT', 'ORPHAN']);

export async function validateWorkflow(req: ValidateRequest): Promise<ValidateResult> {
  const catalog = proxyActivities<typeof catalogActivities>({ startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 10 } });
  const checker = proxyActivities<typeof restoreActivities>({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
  });
  const { progress, log } = trackProgress('validate', 'listing');

  const all = await catalog.listInstanceBackups({ backupPath: req.backupPath, instance: req.instance });
  const chosen = req.backupId ? all.filter((b) => b.id === req.backupId) : all;
  if (req.backupId && chosen.length === 0) throw new Error(`backup ${req.backupId} of instance '${req.instance}' does not exist`);
  const result: ValidateResult = { valid: [], corrupt: [], skipped: [], orphan: [] };
  // The chain of the backup asked for, resolved first: its result names what this workflow reads
  // (client/backupUsers.ts), so that nobody merges or deletes it meanwhile.
  const chain = req.backupId ? await catalog.resolveChain({ backupPath: req.backupPath, instance: req.instance, backupId: req.backupId }) : undefined;
  const todo = chosen.filter((b) => {
    if (VALIDATABLE.has(b.status)) return true;
    log(`WARNING: Backup ${b.id} has status ${b.status}. Skip validation.`);
    result.skipped.push(b.id);
    return false;
  });
  progress.phase = 'validating';
  // -j N: N backups at once, or fewer backups each checked by several threads.
  let threadsPerBackup = 1;
  const validateOne = async (b: { id: string }) => {
    log(`INFO: Validating backup ${b.id}`);
    const v = await checker.validateBackupForRestore({
      backupPath: req.backupPath,
      instance: req.instance,
      backupId: b.id,
      skipBlockValidation: req.skipBlockValidation,
      threads: threadsPerBackup,
    });
    const backupDir = `${req.backupPath}/backups/${req.instance}/${b.id}`;
    if (v.ok) {
      await catalog.setBackupStatus({ backupDir, status: 'OK' });
      log(`INFO: Backup ${b.id} data files are valid`);
      result.valid.push(b.id);
    } else {
      // pg_probackup then marks every OK descendant ORPHAN (set_orphan_status); a catalog of FULL
      // backups has no descendants, so that waits for incremental backups.
      await catalog.setBackupStatus({ backupDir, status: 'CORRUPT' });
      for (const e of v.errors.slice(0, 20)) log(`WARNING: ${e}`);
      log(`WARNING: Backup ${b.id} data files are corrupted`);
      result.corrupt.push({ id: b.id, errors: v.errors });
    }
    progress.filesDone++;
  };

  if (req.target) {
    // Without -i only OK and DONE backups are candidates, as in pg_probackup: a user asking for a
    // point in time wants a backup that restores, not a re-check of invalid ones.
    const candidates = req.backupId ? todo : todo.filter((b) => b.status === 'OK' || b.status === 'DONE');
    for (const b of todo) if (!candidates.includes(b)) log(`WARNING: Skipping backup ${b.id}, because it has non-valid status: ${b.status}`);
    const verdicts: TargetVerdict[] = [];
    let dest: string | undefined;
    for (const b of candidates) {
      const v = await checker.checkRecoveryTarget({ backupPath: req.backupPath, instance: req.instance, backupId: b.id, target: req.target });
      verdicts.push(v);
      if (v.reached) {
        dest = b.id;
        break;
      }
    }
    result.target = { verdicts, ...(dest ? { dest } : {}) };
    // -i: the backup asked for is validated whatever the target; otherwise the one that reaches it.
    const check = req.backupId ? candidates : candidates.filter((b) => b.id === dest);
    progress.filesTotal = check.length;
    threadsPerBackup = Math.max(1, req.threads);
    for (const b of check) await validateOne(b);
    progress.phase = 'done';
    return result;
  }

  if (req.backupId && chain) {
    // One backup: its chain, FULL first, as a restore would check it (do_restore_or_validate).
    if (chain.missingId) {
      const o = await catalog.markOrphans({ backupPath: req.backupPath, instance: req.instance, onlyDescendantsOf: chain.missingId });
      for (const w of o.warnings) log(w);
      result.orphan.push({ id: req.backupId, message: `its parent ${chain.missingId} is missing` });
      progress.phase = 'done';
      return result;
    }
    const members = chain.backups.filter((b) => {
      if (VALIDATABLE.has(b.status)) return true;
      if (b.id !== req.backupId) {
        log(`WARNING: Backup ${b.id} has status ${b.status}. Skip validation.`);
        result.skipped.push(b.id);
      }
      return false;
    });
    progress.filesTotal = members.length;
    if (chain.backups.length > 1) log(`INFO: Validating parents for backup ${req.backupId}`);
    const v = await validateChain({
      backupPath: req.backupPath,
      instance: req.instance,
      members,
      skipBlockValidation: req.skipBlockValidation,
      threads: Math.max(1, req.threads),
      catalog,
      checker,
      log,
    });
    result.valid.push(...v.valid);
    if (v.bad) {
      if (v.bad.id === req.backupId) result.corrupt.push(v.bad);
      else result.orphan.push({ id: req.backupId, message: `its parent ${v.bad.id} has status: CORRUPT` });
    } else {
      // An ancestor that could not be validated (ERROR, RUNNING…) leaves the backup an orphan.
      const o = await catalog.markOrphans({ backupPath: req.backupPath, instance: req.instance, onlyDescendantsOf: chain.backups[0].id });
      for (const w of o.warnings) log(w);
      const bad = chain.backups.find((b) => !VALIDATABLE.has(b.status));
      if (bad && bad.id !== req.backupId) result.orphan.push({ id: req.backupId, message: `its parent ${bad.id} has status: ${bad.status}` });
    }
    progress.phase = 'done';
    return result;
  }

  progress.filesTotal = todo.length;
  const parallel = Math.max(1, Math.min(req.threads, todo.length));
  threadsPerBackup = Math.max(1, Math.floor(req.threads / parallel));
  let next = 0;
  const lane = async () => {
    while (next < todo.length) await validateOne(todo[next++]);
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  // Descendants of a backup that is not valid (or missing) are ORPHAN (pg_probackup's
  // do_validate_instance); an ORPHAN validated above whose chain is valid again stays OK.
  const o = await catalog.markOrphans({ backupPath: req.backupPath, instance: req.instance });
  for (const w of o.warnings) log(w);
  for (const w of o.warnings) {
    const m = /^WARNING: Backup (\w+) (.*)$/.exec(w);
    if (m) result.orphan.push({ id: m[1], message: m[2] });
  }
  progress.phase = 'done';
  return result;
}
