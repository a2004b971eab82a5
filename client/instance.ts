import type { CommandContext } from './context';
import { readInstanceConfig, requireInstance } from './catalog';
import type { OptionKey } from './options/optionDefs';
import { resolveInstanceOptions, type ResolvedInstanceOptions } from './resolveInstanceOptions';

/**
 * Checks that the instance exists, reads its pg_probackup.conf, applies the precedence rules and
 * switches the logger to the instance's logging settings. Read-only.
 */
export async function openInstance(
  opts: { backupPath: string; instance: string } & Partial<Record<OptionKey, unknown>>,
  ctx: CommandContext,
): Promise<ResolvedInstanceOptions> {
  await requireInstance(opts.backupPath, opts.instance);
  const file = await readInstanceConfig(opts.backupPath, opts.instance);
  const resolved = resolveInstanceOptions({ backupPath: opts.backupPath, instance: opts.instance, options: opts, file, env: ctx.env });
  ctx.logger.configure(resolved.logging);
  return resolved;
}
