/**
 * A large data file copied as pieces on several file threads at once (core/pageRanges.ts), then made
 * one stored file: the same bytes, CRC and page header map as a copy in one piece. Uncompressed FULL
 * pieces write straight into their place in one temp file; compressed or DELTA pieces, whose sizes
 * are known only at the end, each write a file of their own that is then appended to the first.
 */
import * as fs from 'node:fs/promises';
import { pageRanges, pieceBlocksFrom } from '../../core/pageRanges';
import { BLCKSZ } from '../../core/types';
import type { DeltaPageFilter } from '../../core/deltaPlan';
import { allSettledOrThrow, filePool } from '../threads/pool';
import { SyncBehind } from '../threads/syncBehind';
import { FIXED_RECORD_BYTES, finishDataFile, type Copied, type CopiedPages, type DataFileOptions } from './copyFile';

export interface DataFileCopy {
  src: string;
  tmp: string;
  segno: number;
  opts: DataFileOptions;
  filter?: DeltaPageFilter;
}

/**
 * Copies `a.src` to `a.tmp`, in pieces when it is large. `pieceTmp(k)` names piece k's own file (a
 * temp name of the attempt, so a crash leaves nothing a later assembly does not remove). Null: the
 * file vanished (a dropped relation).
 */
export async function copyDataFileInPieces(a: DataFileCopy, pieceTmp: (k: number) => string, onBytes: (n: number) => void, signal: AbortSignal): Promise<Copied | null> {
  const pool = filePool();
  let size: number;
  try {
    size = (await fs.stat(a.src)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const ranges = pageRanges(Math.floor(size / BLCKSZ), pieceBlocksFrom(process.env));
  if (ranges.length === 1) return pool.run('copyDataFile', a, onBytes, signal);

  const shared = a.opts.compressAlg === 'none' && !a.filter;
  const files = ranges.map((_, k) => (shared || k === 0 ? a.tmp : pieceTmp(k)));
  const removeAll = () => Promise.all([...new Set(files)].map((f) => fs.rm(f, { force: true })));
  // Pieces in one shared file leave its flushing to one SyncBehind here: a flush per piece would
  // flush the whole file as often, each waiting for the others' writes.
  const out = shared ? await fs.open(a.tmp, 'w', 0o600) : null;
  const flush = out ? new SyncBehind(out, !a.opts.noSync) : null;
  const onPieceBytes = (n: number) => {
    flush?.wrote(n);
    onBytes(n);
  };
  try {
    const pieces = await allSettledOrThrow(
      ranges.map((r, k) =>
        pool.run('copyDataRange', { ...a, tmp: files[k], range: { ...r, at: shared ? r.from * FIXED_RECORD_BYTES : 0, shared } }, onPieceBytes, signal),
      ),
    );
    if (pieces.some((p) => p === null)) {
      await removeAll(); // dropped while it was copied: the WAL replays the drop
      return null;
    }
    const done = pieces as CopiedPages[];
    if (done.some((p) => p.short)) {
      // Truncated while it was copied (VACUUM gives back empty pages at the end): the pieces no
      // longer line up, so the file is copied again in one piece, up to its new length.
      await removeAll();
      return pool.run('copyDataFile', a, onBytes, signal);
    }
    if (done.every((p) => p.nHeaders === 0)) {
      await removeAll(); // DELTA: no page changed since the parent
      return { writeSize: 0, fullSize: 0, crc: 0, compressAlg: a.opts.compressAlg, stored: false, nBlocks: sum(done, (p) => p.nBlocks), nHeaders: 0 };
    }
    const starts: number[] = [];
    if (flush) {
      await flush.finish();
      done.forEach(() => starts.push(0)); // positions were written where they are
    } else {
      await pool.run('joinPieces', { tmp: a.tmp, pieces: files.slice(1), sync: !a.opts.noSync }, undefined, signal);
      let at = 0;
      for (const p of done) {
        starts.push(at);
        at += p.writeSize;
      }
    }
    return await finishDataFile(a.opts.compressAlg, done, starts);
  } catch (e) {
    await removeAll();
    throw e;
  } finally {
    await flush?.settle(); // a flush in flight ends before its file is closed, on every path
    await out?.close();
  }
}

function sum<T>(xs: T[], f: (x: T) => number): number {
  return xs.reduce((n, x) => n + f(x), 0);
}
