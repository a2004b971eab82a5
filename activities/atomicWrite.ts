import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Writes a small file so that a reader sees either the old or the new content, never a torn one:
 * temp name, fsync, rename, fsync of the directory. Used for every control file of the catalog.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Buffer,
  opts: { mode?: number; sync?: boolean } = {},
): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const sync = opts.sync ?? true;
  const tmp = `${target}.tmp.${process.pid}`;
  const fh = await fs.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, target);
  if (sync) await fsyncDir(path.dirname(target));
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The JSON a state file holds, or null when it is not there (yet). */
export async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}
