/**
 * A large data file restored as pieces on several file threads at once: the page header map says
 * where each page record starts, so each piece reads its own run of whole records and writes its
 * pages in place in one temp file; the pieces' CRCs, combined, must be the file's.
 */
import * as fs from 'node:fs/promises';
import type { FileEntry } from '../../core/backupContent';
import { crc32cCombine } from '../../core/crc32c';
import { pageRanges, pieceBlocksFrom } from '../../core/pageRanges';
import { BLCKSZ } from '../../core/types';
import { allSettledOrThrow, filePool } from '../threads/pool';
import { SyncBehind } from '../threads/syncBehind';
import { recordStarts } from './pageHeaders';
import type { RestoreChecks } from './restoreFile';
import { backupCorrupt, fileVerdict, storedPath } from './validate';

export interface FileRestore {
  backupDir: string;
  entry: FileEntry;
  target: string;
  tmp: string;
  sync: boolean;
  check?: RestoreChecks;
}

export async function restoreFileInPieces(a: FileRestore, onBytes: (n: number) => void, signal: AbortSignal): Promise<void> {
  const pool = filePool();
  const e = a.entry;
  const pieceRecords = pieceBlocksFrom(process.env);
  const start = await recordStarts(a.backupDir, e, pieceRecords);
  if (!start) {
    await pool.run('restoreFile', a, onBytes, signal);
    return;
  }
  const n = e.nHeaders ?? 0;
  const src = storedPath(a.backupDir, e);
  const nBlocks = e.nBlocks ?? 0;
  const out = await fs.open(a.tmp, 'w', 0o600);
  // One flush behind the pieces for the whole file (a flush per piece would flush it all as often).
  // The pieces report the stored bytes they read; the flush paces on the bytes written, which a
  // compressed file makes several times as many (zlib pgbench pages: 10): else a zlib restore left
  // hundreds of MiB dirty for the final fsync.
  const flush = new SyncBehind(out, a.sync);
  const expansion = e.size > 0 ? Math.max(1, (nBlocks * BLCKSZ) / e.size) : 1;
  const onPieceBytes = (k: number) => {
    flush.wrote(k * expansion);
    onBytes(k);
  };
  let ok = false;
  try {
    const pieces = await allSettledOrThrow(
      pageRanges(n, pieceRecords).map((r) =>
        pool.run('restoreRange', { src, tmp: a.tmp, start: start(r.from), end: start(r.to), compressAlg: e.compressAlg, nBlocks, segno: e.segno ?? 0, check: a.check }, onPieceBytes, signal),
      ),
    );
    let crc = 0;
    let size = 0;
    for (const p of pieces) {
      crc = crc32cCombine(crc, p.crc, p.size);
      size += p.size;
    }
    const problem = fileVerdict(src, e, size, crc, pieces.find((p) => p.pageError)?.pageError ?? null);
    if (problem) throw backupCorrupt(problem);
    // Blocks not stored are zeros; the file has the length it had at backup time.
    await out.truncate(nBlocks * BLCKSZ);
    await out.chmod(e.mode & 0o7777);
    await flush.finish();
    ok = true;
  } finally {
    await flush.settle();
    await out.close();
    if (!ok) await fs.rm(a.tmp, { force: true }); // failed or cancelled: leave nothing half-written
  }
  await fs.rename(a.tmp, a.target);
}
