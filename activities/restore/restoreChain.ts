/**
 * A data file of an incremental backup into place, on a file thread: its stored copies, newest
 * first (core/restoreChain.ts), each read whole and checked against its CRC; a page is written from
 * the newest copy that has it, and the file ends at the newest backup's length. Temp name, fsync,
 * rename, as restoreFile does.
 */
import * as fs from 'node:fs/promises';
import { CancelledFailure } from '@temporalio/common';
import type { FileEntry } from '../../core/backupContent';
import { PageRecordSplitter } from '../../core/dataFileFormat';
import { BLCKSZ } from '../../core/types';
import type { JobContext } from '../threads/jobs';
import type { Scratch } from '../threads/scratch';
import { SMALL_FILE_MAX, FdFile } from '../threads/fdFile';
import { SyncBehind } from '../threads/syncBehind';
import { PageRun } from './pageRun';
import { readBackupFile } from './restoreFile';
import { asBackupCorrupt, backupCorrupt, fileVerdict, pageBuffer, pageFromRecord, readBuffers } from './validate';

/** One stored copy of the file: where it is in the backup and its backup_content.control entry. */
export interface StoredCopy {
  file: string;
  entry: FileEntry;
}

/**
 * Writes the file's pages from `copies` (newest first) into `out`, the newest copy of each block
 * winning; blocks at or past `nBlocks` are ignored. Returns the blocks no copy held.
 */
export async function writeChainPages(out: FdFile, copies: StoredCopy[], nBlocks: number, scratch: Scratch, onBytes: (n: number) => void, behind: SyncBehind | null = null): Promise<number> {
  const done = new Uint8Array(nBlocks);
  const into = pageBuffer(scratch);
  let left = nBlocks;
  for (const { file, entry } of copies) {
    if (left === 0) break;
    const splitter = new PageRecordSplitter(file);
    const writer = new PageRun(out, behind, scratch, nBlocks);
    let got: { size: number; crc: number };
    try {
      got = await readBackupFile(file, async (chunk) => {
        for (const rec of splitter.push(chunk)) {
          if (rec.block >= nBlocks || done[rec.block]) continue;
          await writer.add(rec.block, pageFromRecord(rec, entry.compressAlg, file, into));
          done[rec.block] = 1;
          left--;
        }
        onBytes(chunk.length);
      }, readBuffers(scratch, entry.size));
      splitter.end();
      await writer.finish();
    } finally {
      await writer.settle(); // a write in flight ends before the caller closes the file
    }
    const problem = fileVerdict(file, entry, got.size, got.crc, null);
    if (problem) throw backupCorrupt(problem);
  }
  return left;
}

export async function restoreChainFile(
  a: { copies: StoredCopy[]; nBlocks: number; mode: number; target: string; tmp: string; sync: boolean },
  ctx: JobContext,
): Promise<void> {
  const onBytes = (n: number) => {
    if (ctx.cancelled()) throw new CancelledFailure('cancelled');
    ctx.progress(n);
  };
  const bytes = a.nBlocks * BLCKSZ;
  // Whole pages: a large file is written uncached (fdFile.ts).
  const out = bytes > SMALL_FILE_MAX ? FdFile.openWriteUncached(a.tmp) : FdFile.openWrite(a.tmp, true);
  const behind = new SyncBehind(out, a.sync);
  try {
    // Blocks no copy holds stay zeros, as in a FULL restore's holes.
    await writeChainPages(out, a.copies, a.nBlocks, ctx.scratch, onBytes, behind);
    await out.truncate(a.nBlocks * BLCKSZ);
    await out.chmod(a.mode & 0o7777);
    await behind.finish();
  } catch (err) {
    await behind.settle();
    await out.close();
    await fs.rm(a.tmp, { force: true }); // failed or cancelled: leave nothing half-written
    throw asBackupCorrupt(err);
  }
  await out.close();
  await fs.rename(a.tmp, a.target);
}
