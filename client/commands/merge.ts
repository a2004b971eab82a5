import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { MergeOptions } from '../options/commands';

/**
 * Merges an incremental chain as the merge workflow.
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function mergeCommand(opts: MergeOptions, ctx: CommandContext): Promise<number> {
  await openInstance(opts, ctx);
  throw new NotImplementedError('merge');
}
