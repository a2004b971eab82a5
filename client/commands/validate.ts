import type { CommandContext } from '../context';
import { CliError, NotImplementedError } from '../errors';
import { listInstances, requireCatalog } from '../catalog';
import { connectTemporal } from '../temporal/connection';
import { runWorkflow } from '../temporal/runWorkflow';
import { openInstance } from '../instance';
import type { ValidateOptions } from '../options/commands';
import { workflowLogSink } from '../workflowLog';
import { workflowIds } from '../../core/workflowIds';
import type { ValidateRequest, ValidateResult } from '../../workflows/validate';

/**
 * validate (spec §11): every backup of the catalog, of one instance, or one backup (-i), each by
 * the validate workflow; statuses become OK or CORRUPT. Exit 1 when any backup is corrupt.
 */
export async function validateCommand(opts: ValidateOptions, ctx: CommandContext): Promise<number> {
  const targets = ['recoveryTargetTime', 'recoveryTargetXid', 'recoveryTargetLsn', 'recoveryTargetName', 'recoveryTarget', 'immediate'] as const;
  if (targets.some((k) => opts[k] !== undefined && opts[k] !== false)) throw new NotImplementedError('validate with a recovery target');
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
  try {
    for (const instance of instances) {
      const req: ValidateRequest = {
        backupPath: opts.backupPath,
        instance,
        ...(opts.backupId ? { backupId: opts.backupId } : {}),
        skipBlockValidation: opts.skipBlockValidation ?? false,
        threads: opts.threads ?? 1,
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
    }
  } finally {
    await tctx.close();
  }
  if (corrupt > 0) throw new CliError(opts.backupId ? `Backup ${opts.backupId} is corrupt` : 'Some backups are not valid');
  ctx.logger.info(opts.backupId ? `Backup ${opts.backupId} is valid` : 'All backups are valid');
  return 0;
}
