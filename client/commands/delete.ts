import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { DeleteOptions } from '../options/commands';

/**
 * Deletes backups (by ID, status or retention) as the delete workflows.
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function deleteCommand(opts: DeleteOptions, ctx: CommandContext): Promise<number> {
  await openInstance(opts, ctx);
  throw new NotImplementedError('delete');
}
