import type { RetentionResult } from '../../workflows/retention';
import type { CommandContext } from '../context';
import { runRetentionWorkflow } from '../engine';
import type { ResolvedInstanceOptions } from '../resolveInstanceOptions';
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
export function runRetention(resolved: ResolvedInstanceOptions, flags: RetentionFlags, ctx: CommandContext): Promise<RetentionResult> {
  const threads = Math.max(1, flags.threads ?? 1);
  return runRetentionWorkflow(
    {
      backupPath: resolved.backupPath,
      instance: resolved.instance,
      deleteExpired: flags.deleteExpired ?? false,
      mergeExpired: flags.mergeExpired ?? false,
      deleteWal: flags.deleteWal ?? false,
      dryRun: flags.dryRun ?? false,
      redundancy: resolved.retention.redundancy,
      windowDays: resolved.retention.windowDays,
      walDepth: resolved.retention.walDepth,
      threads,
      noValidate: flags.noValidate ?? false,
      noSync: flags.noSync ?? false,
    },
    { stderr: ctx.stderr, progress: flags.progress ?? false, threads, env: ctx.env, onLog: workflowLogSink(ctx.logger) },
  );
}
