import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { RestoreOptions } from '../options/commands';

/**
 * Restores a backup as the restore workflow.
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function restoreCommand(opts: RestoreOptions, ctx: CommandContext): Promise<number> {
  await openInstance(opts, ctx);
  throw new NotImplementedError('restore');
}
