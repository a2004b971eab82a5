import * as fs from 'node:fs/promises';
import { catalogPaths } from '../../core/catalogPaths';
import type { CommandContext } from '../context';
import { fsError, requireInstance } from '../catalog';
import type { DelInstanceOptions } from '../options/commands';

/** Removes the instance's backups, its WAL archive and its configuration (spec §1). */
export async function delInstanceCommand(opts: DelInstanceOptions, ctx: CommandContext): Promise<number> {
  const { backupPath, instance } = opts;
  await requireInstance(backupPath, instance);
  const instDir = catalogPaths.instanceDir(backupPath, instance);
  const walDir = catalogPaths.instanceWalDir(backupPath, instance);
  // Backups first and the configuration last: an interrupted del-instance can be run again.
  const entries = await fs.readdir(instDir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name === 'pg_probackup.conf') continue;
    const p = `${instDir}/${e.name}`;
    await fs.rm(p, { recursive: true, force: true }).catch((err) => {
      throw fsError(err, 'remove', p);
    });
  }
  await fs.rm(walDir, { recursive: true, force: true }).catch((err) => {
    throw fsError(err, 'remove', walDir);
  });
  await fs.rm(instDir, { recursive: true, force: true }).catch((err) => {
    throw fsError(err, 'remove', instDir);
  });
  ctx.logger.info(`Instance '${instance}' successfully deleted`);
  return 0;
}
