import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { ArchiveGetOptions } from '../options/commands';

/**
 * restore_command: copies a WAL segment out of wal/<instance>; never needs Temporal.
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function archiveGetCommand(opts: ArchiveGetOptions, ctx: CommandContext): Promise<number> {
  await openInstance(opts, ctx);
  throw new NotImplementedError('archive-get');
}
