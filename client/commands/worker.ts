import { runWorkerCommand } from '../../workers/workerCommand';
import type { CommandContext } from '../context';
import { requireCatalog } from '../catalog';
import type { WorkerOptions } from '../options/commands';

/**
 * A long-lived Temporal worker: with TEMPORAL_ADDRESS it polls that server; without it, it runs
 * the catalog's embedded server and finishes workflows a killed CLI left pending.
 */
export async function workerCommand(opts: WorkerOptions, ctx: CommandContext): Promise<number> {
  await requireCatalog(opts.backupPath);
  return runWorkerCommand(
    { backupPath: opts.backupPath, taskQueue: opts.taskQueue, threads: opts.threads ?? 4 },
    { env: ctx.env, stderr: ctx.stderr, logger: ctx.logger },
  );
}
