import * as fs from 'node:fs/promises';
import { catalogPaths } from '../../core/catalogPaths';
import type { CommandContext } from '../context';
import { CliError } from '../errors';
import { errnoCode, fsError } from '../catalog';
import type { InitOptions } from '../options/commands';

/** Creates B, B/backups and B/wal, all 0700 (spec §1). B must be missing or empty. */
export async function initCommand(opts: InitOptions, ctx: CommandContext): Promise<number> {
  const root = opts.backupPath;
  let entries: string[] | null = null;
  try {
    entries = await fs.readdir(root);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOTDIR') throw new CliError(`backup catalog path '${root}' is not a directory: choose an empty or missing directory`);
    if (code !== 'ENOENT') throw fsError(e, 'read directory', root);
  }
  if (entries && entries.length > 0) {
    throw new CliError(`backup catalog '${root}' already exists and is not empty: choose an empty or missing directory`);
  }
  if (entries === null) {
    try {
      await fs.mkdir(root, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw fsError(e, 'create directory', root);
    }
  }
  const created: string[] = [];
  try {
    for (const dir of [catalogPaths.backupsRoot(root), catalogPaths.walRoot(root)]) {
      try {
        await fs.mkdir(dir, { mode: 0o700 });
      } catch (e) {
        throw fsError(e, 'create directory', dir);
      }
      created.push(dir);
    }
  } catch (e) {
    // Leave the directory as it was, so a corrected retry of init succeeds.
    for (const dir of created.reverse()) await fs.rmdir(dir).catch(() => undefined);
    if (entries === null) await fs.rmdir(root).catch(() => undefined);
    throw e;
  }
  ctx.logger.info(`Backup catalog '${root}' successfully initialized`);
  return 0;
}
