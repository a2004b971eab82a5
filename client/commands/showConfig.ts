import type { CommandContext } from '../context';
import { readInstanceConfig, requireInstance } from '../catalog';
import { showConfigJson, showConfigPlain } from '../../core/instanceConfig';
import type { ShowConfigOptions } from '../options/commands';

/** pg_probackup.conf over defaults, in pg_probackup's order and format (spec §6). */
export async function showConfigCommand(opts: ShowConfigOptions, ctx: CommandContext): Promise<number> {
  await requireInstance(opts.backupPath, opts.instance);
  const values = await readInstanceConfig(opts.backupPath, opts.instance);
  const render = opts.format === 'json' ? showConfigJson : showConfigPlain;
  ctx.stdout.write(render(values, { baseUnits: opts.noScaleUnits ?? false }));
  return 0;
}
