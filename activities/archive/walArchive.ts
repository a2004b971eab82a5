/**
 * The WAL archive of an instance, wal/<instance> (spec §13): archive-push copies a file PostgreSQL
 * has finished into it, archive-get copies one back for recovery. Plain file work run by the CLI
 * as PostgreSQL's archive_command and restore_command, never through Temporal: PostgreSQL calls
 * them once per 16 MiB segment and waits for each.
 *
 * A file is published whole or not at all: it is written as `<name>[.gz].part`, which is also the
 * lock between two pushes of the same file (created O_EXCL), fsynced, then renamed. Segments are
 * gzip-compressed when the instance compresses (`.gz`, as pg_probackup's gzopen writes them);
 * histories, backup history files and partial segments never are.
 */
import { constants as FS, createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { crc32c } from '../../core/crc32c';
import { isSegmentName } from '../../core/walFileName';
import { fsyncDir } from '../atomicWrite';

export class WalArchiveError extends Error {}

export interface PushOptions {
  /** Where PostgreSQL's file is: PGDATA/pg_wal, or the directory of --wal-file-path. */
  walDir: string;
  /** wal/<instance>. */
  archiveDir: string;
  /** zlib level for segments, or null to store them as they are. */
  gzipLevel: number | null;
  overwrite: boolean;
  noSync: boolean;
  /** Seconds to watch another push's `.part` file before taking it over as stale. */
  archiveTimeoutSec: number;
  log: (level: 'LOG' | 'WARNING', msg: string) => void;
}

/**
 * The last step of a pipeline: every chunk written to a file handle the caller keeps open (to
 * fsync and close it itself), in order, one write at a time.
 */
function writeTo(out: fs.FileHandle): (src: AsyncIterable<Buffer>) => Promise<void> {
  return async (src) => {
    for await (const chunk of src) {
      for (let off = 0; off < chunk.length; ) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
    }
  };
}

/** CRC-32C of a file's content (decompressed for `.gz`), streamed. */
async function contentCrc(file: string): Promise<number> {
  let crc = 0;
  const sum = async (src: AsyncIterable<Buffer>) => {
    for await (const chunk of src) crc = crc32c(chunk, crc);
  };
  if (file.endsWith('.gz')) await pipeline(createReadStream(file), zlib.createGunzip(), sum);
  else await pipeline(createReadStream(file), sum);
  return crc;
}

/**
 * Takes the `.part` lock: created exclusively, or, when another push's is there, taken over once
 * it has not grown for archive-timeout seconds (a push that died); refused while it grows.
 */
async function lockPart(part: string, o: PushOptions): Promise<fs.FileHandle> {
  const create = () => fs.open(part, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL, 0o600);
  try {
    return await create();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new WalArchiveError(`Failed to open temp WAL file "${part}": ${(e as Error).message}`);
  }
  o.log('LOG', `Temp WAL file already exists, waiting on it ${o.archiveTimeoutSec} seconds: "${part}"`);
  let size = -1;
  let stale = true;
  for (let tries = 0; tries < o.archiveTimeoutSec; tries++) {
    let st;
    try {
      st = await fs.stat(part);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new WalArchiveError(`Cannot stat temp WAL file "${part}": ${(e as Error).message}`);
      // The other push finished or gave up: take the lock.
      try {
        return await create();
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw new WalArchiveError(`Failed to open temp WAL file "${part}": ${(e2 as Error).message}`);
        continue;
      }
    }
    if (size >= 0 && st.size !== size) stale = false;
    size = st.size;
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (!stale) throw new WalArchiveError(`Failed to open temp WAL file "${part}" in ${o.archiveTimeoutSec} seconds: another archive-push is writing it`);
  o.log('LOG', `Reusing stale temp WAL file "${part}"`);
  await fs.rm(part, { force: true });
  return create();
}

/**
 * Pushes one file: 'pushed', or 'skipped' when the archive already holds the same content (a
 * second push after a crash between publishing and PostgreSQL's noting it). A different file of
 * the same name is an error unless `overwrite`: the archive must not silently change history.
 */
export async function pushWalFile(name: string, o: PushOptions): Promise<'pushed' | 'skipped'> {
  const source = path.join(o.walDir, name);
  const gzip = o.gzipLevel !== null && isSegmentName(name);
  const target = path.join(o.archiveDir, gzip ? `${name}.gz` : name);
  const other = path.join(o.archiveDir, gzip ? name : `${name}.gz`);
  try {
    await fs.access(source, FS.R_OK);
  } catch (e) {
    throw new WalArchiveError(`Cannot open source file "${source}": ${(e as Error).message}`);
  }
  const part = `${target}.part`;
  const out = await lockPart(part, o);
  let published = false;
  try {
    o.log('LOG', `Temp WAL file successfully created: "${part}"`);
    const existing = [target, other].filter((f) => isSegmentName(name) || f === target);
    for (const f of existing) {
      const there = await fs.stat(f).then(() => true, () => false);
      if (!there) continue;
      if ((await contentCrc(f)) === (await contentCrc(source))) {
        o.log('LOG', `WAL file already exists in archive with the same checksum, skip pushing: "${source}"`);
        return 'skipped';
      }
      if (!o.overwrite) throw new WalArchiveError(`WAL file already exists in archive with different checksum: "${f}"`);
      o.log('LOG', `WAL file already exists in archive with different checksum, overwriting: "${f}"`);
    }
    if (gzip) await pipeline(createReadStream(source), zlib.createGzip({ level: o.gzipLevel! }), writeTo(out));
    else await pipeline(createReadStream(source), writeTo(out));
    if (!o.noSync) await out.sync();
    await out.close();
    o.log('LOG', `Rename "${part}" to "${target}"`);
    await fs.rename(part, target);
    published = true;
    // An overwritten file of the other form would shadow or contradict the new one.
    if (o.overwrite && isSegmentName(name)) await fs.rm(other, { force: true });
    if (!o.noSync) await fsyncDir(o.archiveDir);
    return 'pushed';
  } finally {
    if (!published) {
      await out.close().catch(() => undefined);
      await fs.rm(part, { force: true });
    }
  }
}

/**
 * Up to `batch - 1` more files PostgreSQL has marked ready (pg_wal/archive_status/<name>.ready),
 * after `first` in name order: archive-push --batch-size pushes them ahead, so that PostgreSQL's
 * next calls find them archived.
 */
export async function readyFiles(walDir: string, first: string, batch: number): Promise<string[]> {
  if (batch <= 1) return [];
  let names: string[];
  try {
    names = await fs.readdir(path.join(walDir, 'archive_status'));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.ready'))
    .map((n) => n.slice(0, -'.ready'.length))
    .filter((n) => n !== first)
    .sort()
    .slice(0, batch - 1);
}

/** PostgreSQL will not push a file marked done again: what a batch push ahead tells it. */
export async function markDone(walDir: string, name: string, log: PushOptions['log']): Promise<void> {
  const dir = path.join(walDir, 'archive_status');
  try {
    await fs.rename(path.join(dir, `${name}.ready`), path.join(dir, `${name}.done`));
  } catch (e) {
    log('WARNING', `Cannot rename ready file "${path.join(dir, `${name}.ready`)}" to "${path.join(dir, `${name}.done`)}": ${(e as Error).message}`);
  }
}

/**
 * Copies `name` from the archive to `dest`: `<name>.gz` or `<name>`, or for a segment that is
 * missing, its partial form zero-extended to a whole segment (what pg_receivewal leaves). False
 * when the archive does not have it (recovery takes that as the end of the archive).
 */
export async function getWalFile(name: string, archiveDir: string, dest: string, segSize: number, log: PushOptions['log']): Promise<boolean> {
  const segment = isSegmentName(name);
  const candidates: { file: string; partial: boolean }[] = [
    ...(segment ? [{ file: `${name}.gz`, partial: false }] : []),
    { file: name, partial: false },
    ...(segment ? [{ file: `${name}.gz.partial`, partial: true }, { file: `${name}.partial`, partial: true }] : []),
  ];
  for (const c of candidates) {
    const from = path.join(archiveDir, c.file);
    try {
      await fs.access(from, FS.R_OK);
    } catch {
      continue;
    }
    const tmp = `${dest}.gs_probackup.tmp`;
    try {
      const out = await fs.open(tmp, 'w', 0o600);
      try {
        if (c.file.includes('.gz')) await pipeline(createReadStream(from), zlib.createGunzip(), writeTo(out));
        else await pipeline(createReadStream(from), writeTo(out));
        if (c.partial) await out.truncate(segSize);
      } finally {
        await out.close();
      }
      await fs.rename(tmp, dest);
      log('LOG', `WAL file successfully copied: ${name}`);
      return true;
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw new WalArchiveError(`Cannot copy WAL file "${from}" to "${dest}": ${(e as Error).message}`);
    }
  }
  log('LOG', `Target WAL file is missing: ${name}`);
  return false;
}

/** The archive directory's files with their sizes, and the content of each timeline history. */
export async function listArchive(archiveDir: string): Promise<{ files: { name: string; size: number }[]; histories: Map<number, string> }> {
  const names = await fs.readdir(archiveDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw e;
  });
  const files: { name: string; size: number }[] = [];
  const histories = new Map<number, string>();
  for (const name of names) {
    const st = await fs.stat(path.join(archiveDir, name)).catch(() => null);
    if (!st?.isFile()) continue;
    files.push({ name, size: st.size });
    if (/^[0-9A-F]{8}\.history$/.test(name)) histories.set(parseInt(name.slice(0, 8), 16), await fs.readFile(path.join(archiveDir, name), 'utf8').catch(() => ''));
  }
  return { files, histories };
}
