import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';

import type { CatchupOptions } from '../options/commands';

/**
 * Brings a local copy of a cluster up to date with a running source.
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function catchupCommand(opts: CatchupOptions, ctx: CommandContext): Promise<number> {
  void opts;
  void ctx;
  throw new NotImplementedError('catchup');
}
