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
import { SMALL_FILE_MAX, FdFile } from '../threads/fdFile';
import { SyncBehind } from '../threads/syncBehind';
import { PageRun } from './pageRun';
import { parsePgControl, verifyPgControlCrc } from '../../core/pgControl';
import { asBackupCorrupt, backupCorrupt, fileVerdict, pageBuffer, pageFromRecord, pageProblem, readBuffers, readStored, storedPath } from './validate';

/**
 * Checks a restore makes while it reads the backup besides each file's size and CRC (which it
 * always checks): with `check`, every page too, as validate would, so that a restore need not read
 * the backup twice to validate it first.
 */
export interface RestoreChecks {
  /** Every page is checked (no --skip-block-validation). */
  pages: boolean;
  /** The backup has data checksums (backup.control checksum-version): pages are verified with them. */
  checksums: boolean;
}

export async function restoreFile(a: { backupDir: string; entry: FileEntry; target: string; tmp: string; sync: boolean; check?: RestoreChecks }, ctx: JobContext): Promise<void> {
  const { backupDir, entry: e, target, tmp, sync, check } = a;
  const onBytes = (n: number) => {
    if (ctx.cancelled()) throw new CancelledFailure('cancelled');
    ctx.progress(n);
  };
  const src = storedPath(backupDir, e);
  const bytes = e.isDatafile ? (e.nBlocks ?? 0) * BLCKSZ : e.size;
  // A large data file is written in whole pages, uncached (fdFile.ts); everything else through the cache.
  const out = e.isDatafile && bytes > SMALL_FILE_MAX ? FdFile.openWriteUncached(tmp) : FdFile.openWrite(tmp, bytes <= SMALL_FILE_MAX);
  const behind = new SyncBehind(out, sync);
  try {
    if (e.isDatafile) {
      if (e.size > 0) {
        const f = { compressAlg: e.compressAlg, nBlocks: e.nBlocks ?? Infinity, segno: e.segno ?? 0, check };
        const got = await writeStoredPages(src, out, behind, f, ctx, readBuffers(ctx.scratch, e.size));
        const problem = fileVerdict(src, e, got.size, got.crc, got.pageError);
        if (problem) throw backupCorrupt(problem);
      } else if (check) {
        await expectEmpty(src);
      }
      // Blocks not stored are zeros; the file has the length it had at backup time.
      await out.truncate((e.nBlocks ?? 0) * BLCKSZ);
    } else if (e.size > 0) {
      const isPgControl = e.path === 'global/pg_control' && e.externalDirNum === 0;
      let pgControl: Buffer | null = null;
      const got = await readBackupFile(src, async (chunk) => {
        await out.write(chunk);
        behind.wrote(chunk.length);
        onBytes(chunk.length);
        // pg_control's entry holds its own CRC, not the file's (validate.ts checkFile); it is 8 KiB.
        if (isPgControl) pgControl = Buffer.concat(pgControl ? [pgControl, chunk] : [chunk]);
      }, readBuffers(ctx.scratch, e.size));
      const problem = isPgControl ? pgControlProblem(src, pgControl, e) : fileVerdict(src, e, got.size, got.crc, null);
      if (problem) throw backupCorrupt(problem);
    } else if (check) {
      await expectEmpty(src);
    }
    await out.chmod(e.mode & 0o7777);
    await behind.finish();
  } catch (err) {
    await behind.settle();
    await out.close();
    await fs.rm(tmp, { force: true }); // failed or cancelled: leave nothing half-written
    throw asBackupCorrupt(err);
  }
  await out.close();
  await fs.rename(tmp, target);
}

/** readStored, with a missing file reported as what it is: a corrupt backup. */
export async function readBackupFile(src: string, onChunk: (chunk: Buffer) => Promise<void>, bufs: readonly [Buffer, Buffer], range?: { start: number; end: number }): Promise<{ size: number; crc: number }> {
  try {
    return await readStored(src, onChunk, bufs, range);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw backupCorrupt(`file "${src}" is missing`);
    throw err;
  }
}

/** An entry of size 0 (or -1) may or may not be stored; what is stored must be empty. */
async function expectEmpty(src: string): Promise<void> {
  const st = await fs.stat(src).catch(() => null);
  if (st && st.size !== 0) throw backupCorrupt(`file "${src}" should be empty but has ${st.size} bytes`);
}

function pgControlProblem(src: string, buf: Buffer | null, e: FileEntry): string | null {
  if (!buf || !verifyPgControlCrc(buf) || parsePgControl(buf).crc !== e.crc) return `file "${src}" is damaged: its CRC does not match`;
  return null;
}

/**
 * Bytes [start, end) of a stored data file, whole page records, into the temp file the pieces of
 * one file share (restorePieces.ts); its size and CRC, which restorePieces.ts checks for the file.
 */
export async function restoreRange(
  a: { src: string; tmp: string; start: number; end: number; compressAlg: CompressAlg; nBlocks: number; segno: number; check?: RestoreChecks },
  ctx: JobContext,
): Promise<{ size: number; crc: number; pageError: string | null }> {
  // The file is flushed as a whole, as its pieces write it (restorePieces.ts). A file large enough
  // for pieces is written uncached (fdFile.ts).
  const out = FdFile.openExisting(a.tmp, true);
  try {
    return await writeStoredPages(a.src, out, null, a, ctx, readBuffers(ctx.scratch, a.end - a.start), { start: a.start, end: a.end });
  } catch (err) {
    throw asBackupCorrupt(err);
  } finally {
    await out.close();
  }
}

/**
 * The page records of `src` (bytes [start, end) of it with a `range`) written as pages into `out`,
 * each page checked when `check` asks: the bytes read, their CRC, and the first bad page.
 */
async function writeStoredPages(
  src: string,
  out: FdFile,
  behind: SyncBehind | null,
  f: { compressAlg: CompressAlg; nBlocks: number; segno: number; check?: RestoreChecks },
  ctx: JobContext,
  bufs: readonly [Buffer, Buffer],
  range?: { start: number; end: number },
): Promise<{ size: number; crc: number; pageError: string | null }> {
  const splitter = new PageRecordSplitter(src, range?.start ?? 0);
  const pages = new PageRun(out, behind, ctx.scratch, f.nBlocks);
  const into = pageBuffer(ctx.scratch);
  let pageError: string | null = null;
  try {
    const got = await readBackupFile(src, async (chunk) => {
      if (ctx.cancelled()) throw new CancelledFailure('cancelled');
      for (const rec of splitter.push(chunk)) {
        const page = pageFromRecord(rec, f.compressAlg, src, into);
        if (f.check?.pages && !pageError) pageError = pageProblem(src, f.segno, rec.block, page, f.check.checksums);
        await pages.add(rec.block, page);
      }
      ctx.progress(chunk.length);
    }, bufs, range);
    splitter.end();
    await pages.finish();
    return { ...got, pageError };
  } finally {
    await pages.settle(); // a write in flight ends before the caller closes the file
  }
}
