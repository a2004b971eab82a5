import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { ArchivePushOptions } from '../options/commands';

/**
 * archive_command: copies a WAL segment into wal/<instance>; never needs Temporal.
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function archivePushCommand(opts: ArchivePushOptions, ctx: CommandContext): Promise<number> {
  await openInstance(opts, ctx);
  throw new NotImplementedError('archive-push');
}
