/**
 * A large data file of a backup checked as pieces on several file threads at once, as restore
 * reads it (restorePieces.ts): each piece reads its run of whole page records; the file's size and
 * CRC are the pieces' combined.
 */
import type { BackupControl } from '../../core/backupControl';
import type { FileEntry } from '../../core/backupContent';
import { crc32cCombine } from '../../core/crc32c';
import { pageRanges, pieceBlocksFrom } from '../../core/pageRanges';
import { allSettledOrThrow, filePool } from '../threads/pool';
import { recordStarts } from './pageHeaders';
import { fileVerdict, storedPath, type CheckedBytes } from './validate';

export interface FileCheck {
  backupDir: string;
  entry: FileEntry;
  control: BackupControl;
  blockValidation: boolean;
}

/** null when the stored file is sound, else the problem (checkFile's verdict, found in pieces). */
export async function checkFileInPieces(a: FileCheck, onBytes: () => void, signal: AbortSignal): Promise<string | null> {
  const pool = filePool();
  const e = a.entry;
  const pieceRecords = pieceBlocksFrom(process.env);
  // Headers that do not describe the file as catalogued leave the verdict to a whole read.
  const start = await recordStarts(a.backupDir, e, pieceRecords);
  if (!start) return pool.run('checkFile', a, onBytes, signal);
  const n = e.nHeaders ?? 0;
  const pieces: CheckedBytes[] = await allSettledOrThrow(
    pageRanges(n, pieceRecords).map((r) => pool.run('checkRange', { ...a, range: { start: start(r.from), end: start(r.to) } }, onBytes, signal)),
  );
  let crc = 0;
  let size = 0;
  let pageError: string | null = null;
  for (const p of pieces) {
    if ('error' in p) return p.error;
    crc = crc32cCombine(crc, p.crc, p.size);
    size += p.size;
    pageError ??= p.pageError;
  }
  return fileVerdict(storedPath(a.backupDir, e), e, size, crc, pageError);
}
