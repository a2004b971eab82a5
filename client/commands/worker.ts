import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { requireCatalog } from '../catalog';
import type { WorkerOptions } from '../options/commands';

/**
 * Runs a long-lived Temporal worker for this catalog (production mode).
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function workerCommand(opts: WorkerOptions, ctx: CommandContext): Promise<number> {
  await requireCatalog(opts.backupPath);
  void ctx;
  throw new NotImplementedError('worker');
}
