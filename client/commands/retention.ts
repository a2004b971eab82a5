import * as os from 'node:os';
import { workflowIds } from '../../core/workflowIds';
import type { RetentionRequest, RetentionResult } from '../../workflows/retention';
import type { CommandContext } from '../context';
import type { ResolvedInstanceOptions } from '../resolveInstanceOptions';
import { connectTemporal } from '../temporal/connection';
import { runWorkflow } from '../temporal/runWorkflow';
import { workflowLogSink } from '../workflowLog';

export interface RetentionFlags {
  deleteExpired?: boolean;
  mergeExpired?: boolean;
  deleteWal?: boolean;
  dryRun?: boolean;
  threads?: number;
  noValidate?: boolean;
  noSync?: boolean;
  progress?: boolean;
}

/**
 * delete --delete-expired / --merge-expired / --delete-wal, alone or after a backup (spec §10):
 * the retention workflow, with the policy as resolved here (pg_probackup.conf under the command
 * line's --retention-redundancy and --retention-window), followed to its end.
 */
export async function runRetention(resolved: ResolvedInstanceOptions, flags: RetentionFlags, ctx: CommandContext): Promise<RetentionResult> {
  const { backupPath, instance } = resolved;
  const req: RetentionRequest = {
    backupPath,
    instance,
    deleteExpired: flags.deleteExpired ?? false,
    mergeExpired: flags.mergeExpired ?? false,
    deleteWal: flags.deleteWal ?? false,
    dryRun: flags.dryRun ?? false,
    redundancy: resolved.retention.redundancy,
    windowDays: resolved.retention.windowDays,
    threads: flags.threads ?? 1,
    noValidate: flags.noValidate ?? false,
    noSync: flags.noSync ?? false,
  };
  const tctx = await connectTemporal({ backupPath, env: ctx.env });
  try {
    return await runWorkflow<RetentionResult>({
      ctx: tctx,
      workflowType: 'retentionWorkflow',
      workflowId: workflowIds.delete(instance),
      args: [req],
      searchAttributes: { BackupInstance: instance, BackupOperation: 'delete' },
      memo: { backupPath, instance, startedBy: { host: os.hostname(), pid: process.pid } },
      showProgress: flags.progress ?? false,
      threads: Math.max(1, flags.threads ?? 1),
      out: { stderr: ctx.stderr },
      onLog: workflowLogSink(ctx.logger),
    });
  } finally {
    await tctx.close();
  }
}
