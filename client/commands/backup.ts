import type { CommandContext } from '../context';
import { NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { BackupOptions } from '../options/commands';

/**
 * Takes a backup as the backup workflow (resolved instance options: openInstance).
 * Parsed and validated; the behaviour is not built yet, so it changes nothing and fails.
 */
export async function backupCommand(opts: BackupOptions, ctx: CommandContext): Promise<number> {
  await openInstance(opts, ctx);
  throw new NotImplementedError('backup');
}
