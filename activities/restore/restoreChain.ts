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
import { scratch } from '../threads/scratch';
import { pageFromRecord, readStored } from './validate';

/** One stored copy of the file: where it is in the backup and its backup_content.control entry. */
export interface StoredCopy {
  file: string;
  entry: FileEntry;
}

/** Writes pages into `fd` in runs of consecutive blocks (1 MiB writes, not one per page). */
class BlockWriter {
  private readonly buf = scratch('chainRun', 128 * BLCKSZ);
  private first = 0;
  private n = 0;

  constructor(private readonly out: fs.FileHandle) {}

  async add(block: number, page: Buffer): Promise<void> {
    if (this.n > 0 && (block !== this.first + this.n || this.n * BLCKSZ === this.buf.length)) await this.flush();
    if (this.n === 0) this.first = block;
    page.copy(this.buf, this.n * BLCKSZ, 0, BLCKSZ);
    this.n++;
  }

  async flush(): Promise<void> {
    if (this.n === 0) return;
    await this.out.write(this.buf, 0, this.n * BLCKSZ, this.first * BLCKSZ);
    this.n = 0;
  }
}

/**
 * Writes the file's pages from `copies` (newest first) into `out`, the newest copy of each block
 * winning; blocks at or past `nBlocks` are ignored. Returns the blocks no copy held.
 */
export async function writeChainPages(out: fs.FileHandle, copies: StoredCopy[], nBlocks: number, onBytes: (n: number) => void): Promise<number> {
  const done = new Uint8Array(nBlocks);
  let left = nBlocks;
  for (const { file, entry } of copies) {
    if (left === 0) break;
    const splitter = new PageRecordSplitter(file);
    const writer = new BlockWriter(out);
    const got = await readStored(file, async (chunk) => {
      for (const rec of splitter.push(chunk)) {
        if (rec.block >= nBlocks || done[rec.block]) continue;
        await writer.add(rec.block, pageFromRecord(rec, entry.compressAlg, file));
        done[rec.block] = 1;
        left--;
      }
      onBytes(chunk.length);
    }, scratch('read', 1 << 20));
    splitter.end();
    await writer.flush();
    if (got.size !== entry.size || got.crc !== entry.crc) {
      throw new Error(`backup file "${file}" is damaged: ${got.size} bytes with CRC ${got.crc}, expected ${entry.size} bytes with CRC ${entry.crc}`);
    }
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
  const out = await fs.open(a.tmp, 'w', 0o600);
  try {
    // Blocks no copy holds stay zeros, as in a FULL restore's holes.
    await writeChainPages(out, a.copies, a.nBlocks, onBytes);
    await out.truncate(a.nBlocks * BLCKSZ);
    await out.chmod(a.mode & 0o7777);
    if (a.sync) await out.sync();
  } catch (err) {
    await out.close();
    await fs.rm(a.tmp, { force: true }); // failed or cancelled: leave nothing half-written
    throw err;
  }
  await out.close();
  await fs.rename(a.tmp, a.target);
}
