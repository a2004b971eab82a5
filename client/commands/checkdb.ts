import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { CheckdbOptions } from '../options/commands';

/**
 * Checks a running cluster's pages (and indexes with --amcheck).
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function checkdbCommand(opts: CheckdbOptions, ctx: CommandContext): Promise<number> {
  if (opts.backupPath !== undefined && opts.instance !== undefined) await openInstance({ ...opts, backupPath: opts.backupPath, instance: opts.instance }, ctx);
  throw new NotImplementedError('checkdb');
}
