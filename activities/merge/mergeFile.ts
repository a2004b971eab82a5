/**
 * A data file of a merge that no single copy holds whole, on a file thread: its pages from the
 * chain (newest copy of each block wins) into a plain relation file, which is then stored again
 * as a FULL backup stores a file (every block, the destination's compression) — pg_probackup's
 * merge_data_file. The plain file is scratch; the stored one goes to the temp name it is given.
 */
import * as fs from 'node:fs/promises';
import { CancelledFailure } from '@temporalio/common';
import { BLCKSZ } from '../../core/types';
import { copyDataFile, type Copied, type DataFileOptions } from '../files/copyFile';
import { writeChainPages, type StoredCopy } from '../restore/restoreChain';
import { SMALL_FILE_MAX, FdFile } from '../threads/fdFile';
import type { JobContext } from '../threads/jobs';

export async function mergeDataFile(
  a: { copies: StoredCopy[]; nBlocks: number; segno: number; plain: string; tmp: string; opts: DataFileOptions },
  ctx: JobContext,
): Promise<Copied> {
  const out = FdFile.openWrite(a.plain, a.nBlocks * BLCKSZ <= SMALL_FILE_MAX);
  try {
    await writeChainPages(out, a.copies, a.nBlocks, ctx.scratch, (n) => {
      if (ctx.cancelled()) throw new CancelledFailure('cancelled');
      ctx.progress(n);
    });
    // Blocks no copy holds are zero pages, stored as such.
    await out.truncate(a.nBlocks * BLCKSZ);
  } catch (err) {
    await out.close();
    await fs.rm(a.plain, { force: true });
    throw err;
  }
  await out.close();
  try {
    const copied = await copyDataFile({ src: a.plain, tmp: a.tmp, segno: a.segno, opts: a.opts }, ctx);
    if (!copied) throw new Error(`merge scratch file "${a.plain}" vanished`);
    return copied;
  } finally {
    await fs.rm(a.plain, { force: true });
  }
}
