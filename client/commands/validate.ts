import type { CommandContext } from '../context';
import { CliError } from '../errors';
import { listInstances, requireCatalog } from '../catalog';
import { connectTemporal } from '../temporal/connection';
import { runWorkflow } from '../temporal/runWorkflow';
import { openInstance } from '../instance';
import type { ValidateOptions } from '../options/commands';
import { workflowLogSink } from '../workflowLog';
import { formatLocalTimestamp } from '../timeFormat';
import type { Logger } from '../logger';
import { describeTarget, notEnoughWalText, pointText, reasonText, type TargetSpec, type TargetVerdict } from '../../core/recoveryTargetReport';
import { workflowIds } from '../../core/workflowIds';
import type { ValidateRequest, ValidateResult } from '../../workflows/validate';

/** PostgreSQL keeps restore point names in char[MAXFNAMELEN = 64], NUL included. */
const MAX_RESTORE_POINT_NAME = 63;

/**
 * The WAL target of --recovery-target-time|xid|lsn|name; none for immediate/latest, which every
 * valid STREAM backup reaches (its consistency point, the end of its WAL).
 */
export function targetSpec(opts: ValidateOptions): TargetSpec | undefined {
  const inclusive = opts.recoveryTargetInclusive ?? true;
  const timeline = typeof opts.recoveryTargetTimeline === 'number' ? { timeline: opts.recoveryTargetTimeline } : {};
  if (opts.recoveryTargetLsn !== undefined) return { kind: 'lsn', value: String(opts.recoveryTargetLsn), inclusive, ...timeline };
  if (opts.recoveryTargetXid !== undefined) return { kind: 'xid', value: String(opts.recoveryTargetXid), inclusive, ...timeline };
  if (opts.recoveryTargetTime !== undefined) return { kind: 'time', value: String(opts.recoveryTargetTime), inclusive, ...timeline };
  if (opts.recoveryTargetName !== undefined) {
    const bytes = Buffer.byteLength(opts.recoveryTargetName);
    if (bytes === 0 || bytes > MAX_RESTORE_POINT_NAME) {
      throw new CliError(`option --recovery-target-name: '${opts.recoveryTargetName}' has ${bytes} bytes; a restore point name has 1 to ${MAX_RESTORE_POINT_NAME}`);
    }
    return { kind: 'name', value: opts.recoveryTargetName, inclusive: true, ...timeline };
  }
  return undefined;
}

/**
 * Reports validate with a recovery target, in pg_probackup's words (validate_wal): success names
 * where recovery stops; failure names the target and why PostgreSQL could not reach it.
 */
function reportTarget(spec: TargetSpec, r: ValidateResult, opts: ValidateOptions, instance: string, logger: Logger): void {
  const fmt = formatLocalTimestamp;
  const target = describeTarget(spec, fmt);
  const verdicts = r.target?.verdicts ?? [];
  for (const v of verdicts) if (!v.reached) logger.log(`Backup ${v.backupId} does not reach ${target}: ${reasonText(spec, v, fmt)}`);
  const dest = verdicts.find((v) => v.reached);
  const corrupt = r.corrupt.map((c) => c.id);
  if (opts.backupId && corrupt.includes(opts.backupId)) throw new CliError(`Backup ${opts.backupId} is corrupt`);
  if (dest) {
    if (corrupt.includes(dest.backupId)) throw new CliError(`Backup ${dest.backupId} is corrupt`);
    logger.info(`Recovery to ${target} from backup ${dest.backupId} stops ${dest.how} the record at ${dest.stopRecordLsn}, after the backup is consistent at ${dest.consistentAt}`);
    logger.info(`Backup validation completed successfully on ${pointText(dest.point!, dest, fmt)}`);
    logger.info(`Backup ${dest.backupId} is valid`);
    return;
  }
  if (opts.backupId && r.skipped.includes(opts.backupId)) throw new CliError(`Requested backup ${opts.backupId} cannot be recovered to ${target}: its status (above) is not one validate checks`);
  if (verdicts.length === 0) {
    throw new CliError(`Backup satisfying target options is not found: instance '${instance}' has no backup with status OK or DONE to recover to ${target}`);
  }
  // The newest backup consistent before the target is pg_probackup's choice: its WAL falls short.
  const short = verdicts.find((v) => v.why === 'end-of-wal');
  if (short) {
    if (short.point) logger.warning(`Recovery can be done up to ${pointText(short.point, short, fmt)}`);
    throw new CliError(`${notEnoughWalText(spec, fmt)}: ${reasonText(spec, short, fmt)}`);
  }
  // Every backup is consistent only after the target: the oldest tells how early it is.
  const v = verdicts[verdicts.length - 1];
  const head = opts.backupId
    ? v.why === 'timeline' ? `Target backup ${v.backupId} does not satisfy target timeline` : `Requested backup ${v.backupId} does not satisfy restore options`
    : 'Backup satisfying target options is not found';
  throw new CliError(`${head}: ${reasonText(spec, v, fmt)}`);
}

/**
 * validate (spec §11): every backup of the catalog, of one instance, or one backup (-i), each by
 * the validate workflow; statuses become OK or CORRUPT. Exit 1 when any backup is corrupt. With a
 * recovery target (one instance): the backup that reaches it, or exit 1 saying why none does.
 */
export async function validateCommand(opts: ValidateOptions, ctx: CommandContext): Promise<number> {
  const target = targetSpec(opts);
  let instances: string[];
  if (opts.instance !== undefined) {
    await openInstance({ ...opts, instance: opts.instance }, ctx);
    instances = [opts.instance];
  } else {
    await requireCatalog(opts.backupPath);
    instances = await listInstances(opts.backupPath);
  }
  const tctx = await connectTemporal({ backupPath: opts.backupPath, env: ctx.env });
  let corrupt = 0;
  const orphans: ValidateResult['orphan'] = [];
  let targetResult: ValidateResult | undefined;
  try {
    for (const instance of instances) {
      const req: ValidateRequest = {
        backupPath: opts.backupPath,
        instance,
        ...(opts.backupId ? { backupId: opts.backupId } : {}),
        skipBlockValidation: opts.skipBlockValidation ?? false,
        threads: opts.threads ?? 1,
        ...(target ? { target } : {}),
      };
      const r = await runWorkflow<ValidateResult>({
        ctx: tctx,
        workflowType: 'validateWorkflow',
        workflowId: workflowIds.validate(instance, opts.backupId),
        args: [req],
        searchAttributes: { BackupInstance: instance, BackupOperation: 'validate', ...(opts.backupId ? { BackupId: opts.backupId } : {}) },
        showProgress: opts.progress ?? false,
        threads: req.threads,
        out: { stderr: ctx.stderr },
        onLog: workflowLogSink(ctx.logger),
      });
      corrupt += r.corrupt.length;
      orphans.push(...r.orphan);
      targetResult = r;
    }
  } finally {
    await tctx.close();
  }
  if (target) {
    reportTarget(target, targetResult!, opts, instances[0], ctx.logger);
    return 0;
  }
  if (opts.backupId) {
    const orphan = orphans.find((o) => o.id === opts.backupId);
    if (corrupt > 0) throw new CliError(`Backup ${opts.backupId} is corrupt`);
    if (orphan) throw new CliError(`Backup ${opts.backupId} is orphan: ${orphan.message}`);
  }
  if (corrupt > 0 || orphans.length > 0) throw new CliError('Some backups are not valid');
  ctx.logger.info(opts.backupId ? `Backup ${opts.backupId} is valid` : 'All backups are valid');
  return 0;
}
