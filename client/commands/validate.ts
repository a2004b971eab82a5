import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { requireCatalog } from '../catalog';
import { openInstance } from '../instance';
import type { ValidateOptions } from '../options/commands';

/**
 * Validates backups as the validate workflow.
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function validateCommand(opts: ValidateOptions, ctx: CommandContext): Promise<number> {
  if (opts.instance !== undefined) await openInstance({ ...opts, instance: opts.instance }, ctx);
  else await requireCatalog(opts.backupPath);
  throw new NotImplementedError('validate');
}
