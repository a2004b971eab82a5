/**
 * One backup file into place, run on a file thread (activities/threads): read it, check its CRC,
 * decompress its pages, write them to the temp name, fsync, rename.
 */
import * as fs from 'node:fs/promises';
import { CancelledFailure } from '@temporalio/common';
import type { FileEntry } from '../../core/backupContent';
import { PageRecordSplitter } from '../../core/dataFileFormat';
import { BLCKSZ, type CompressAlg } from '../../core/types';
import type { JobContext } from '../threads/jobs';
import { DIRECT_IO_MAX, FdFile } from '../threads/fdFile';
import { SyncBehind } from '../threads/syncBehind';
import { PageRun } from './pageRun';
import { pageFromRecord, readBuffers, readStored, storedPath } from './validate';

export async function restoreFile(a: { backupDir: string; entry: FileEntry; target: string; tmp: string; sync: boolean }, ctx: JobContext): Promise<void> {
  const { backupDir, entry: e, target, tmp, sync } = a;
  const onBytes = (n: number) => {
    if (ctx.cancelled()) throw new CancelledFailure('cancelled');
    ctx.progress(n);
  };
  const src = storedPath(backupDir, e);
  const out = FdFile.openWrite(tmp, (e.isDatafile ? (e.nBlocks ?? 0) * BLCKSZ : e.size) <= DIRECT_IO_MAX);
  const behind = new SyncBehind(out, sync);
  try {
    if (e.isDatafile) {
      if (e.size > 0) {
        const splitter = new PageRecordSplitter(src);
        const pages = new PageRun(out, behind, ctx.scratch, e.nBlocks ?? Infinity);
        const got = await readStored(src, async (chunk) => {
          for (const rec of splitter.push(chunk)) await pages.add(rec.block, pageFromRecord(rec, e.compressAlg, src));
          onBytes(chunk.length);
        }, readBuffers(ctx.scratch, e.size));
        splitter.end();
        await pages.flush();
        if (got.crc !== e.crc) throw new Error(`backup file "${src}" is damaged: CRC ${got.crc}, expected ${e.crc}`);
      }
      // Blocks not stored are zeros; the file has the length it had at backup time.
      await out.truncate((e.nBlocks ?? 0) * BLCKSZ);
    } else if (e.size > 0) {
      const got = await readStored(src, async (chunk) => {
        await out.write(chunk);
        behind.wrote(chunk.length);
        onBytes(chunk.length);
      }, readBuffers(ctx.scratch, e.size));
      const isPgControl = e.path === 'global/pg_control' && e.externalDirNum === 0;
      if (!isPgControl && (got.crc !== e.crc || got.size !== e.size)) {
        throw new Error(`backup file "${src}" is damaged: ${got.size} bytes with CRC ${got.crc}, expected ${e.size} bytes with CRC ${e.crc}`);
      }
    }
    await out.chmod(e.mode & 0o7777);
    await behind.finish();
  } catch (err) {
    await behind.settle();
    await out.close();
    await fs.rm(tmp, { force: true }); // failed or cancelled: leave nothing half-written
    throw err;
  }
  await out.close();
  await fs.rename(tmp, target);
}

/**
 * Bytes [start, end) of a stored data file, whole page records, into the temp file the pieces of
 * one file share (restorePieces.ts); its size and CRC, which restorePieces.ts checks for the file.
 */
export async function restoreRange(
  a: { src: string; tmp: string; start: number; end: number; compressAlg: CompressAlg; nBlocks: number },
  ctx: JobContext,
): Promise<{ size: number; crc: number }> {
  // The file is flushed as a whole, as its pieces write it (restorePieces.ts).
  const out = FdFile.openExisting(a.tmp);
  try {
    const splitter = new PageRecordSplitter(a.src, a.start);
    const pages = new PageRun(out, null, ctx.scratch, a.nBlocks);
    const got = await readStored(a.src, async (chunk) => {
      if (ctx.cancelled()) throw new CancelledFailure('cancelled');
      for (const rec of splitter.push(chunk)) await pages.add(rec.block, pageFromRecord(rec, a.compressAlg, a.src));
      ctx.progress(chunk.length);
    }, readBuffers(ctx.scratch, a.end - a.start), { start: a.start, end: a.end });
    splitter.end();
    await pages.flush();
    return got;
  } finally {
    await out.close();
  }
}
