import type { CommandContext } from '../context';
import { readInstanceConfig, requireInstance, writeInstanceConfig } from '../catalog';
import type { SetConfigOptions } from '../options/commands';
import { configValuesFromOptions } from '../resolveInstanceOptions';

/** Merges the command line's settings into pg_probackup.conf, written atomically. */
export async function setConfigCommand(opts: SetConfigOptions, ctx: CommandContext): Promise<number> {
  await requireInstance(opts.backupPath, opts.instance);
  const current = await readInstanceConfig(opts.backupPath, opts.instance);
  const changes = configValuesFromOptions(opts);
  // `-E none` clears the list; other values replace.
  const next = { ...current, ...changes };
  if (next['external-dirs'] === 'none') delete next['external-dirs'];
  await writeInstanceConfig(opts.backupPath, opts.instance, next);
  ctx.logger.log(`set-config: ${Object.keys(changes).join(', ') || 'nothing changed'}`);
  return 0;
}
