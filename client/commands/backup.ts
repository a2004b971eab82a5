import { runBackupWorkflow } from '../engine';
import type { CommandContext } from '../context';
import { openInstance } from '../instance';
import type { BackupOptions } from '../options/commands';
import { workflowLogSink } from '../workflowLog';
import { buildBackupRequest, passwordForWorker } from './backupRequest';
import { runRetention } from './retention';

/**
 * Takes a backup as the backup workflow; the workflow's log lines are printed as they come. Then,
 * as pg_probackup does after a successful backup, --delete-expired, --merge-expired and
 * --delete-wal run the retention workflow.
 */
export async function backupCommand(opts: BackupOptions, ctx: CommandContext): Promise<number> {
  const resolved = await openInstance(opts, ctx);
  const req = buildBackupRequest(opts, resolved);
  passwordForWorker(opts.password, ctx);
  if (!opts.stream) {
    ctx.logger.info('WAL is streamed into the backup (STREAM mode): gs_probackup on Temporal makes self-contained backups');
  }
  await runBackupWorkflow(req, {
    stderr: ctx.stderr,
    progress: opts.progress ?? false,
    threads: req.threads,
    env: ctx.env,
    onLog: workflowLogSink(ctx.logger),
  });
  if (opts.deleteExpired || opts.mergeExpired || opts.deleteWal) {
    await runRetention(resolved, { ...opts, threads: req.threads }, ctx);
  }
  return 0;
}
