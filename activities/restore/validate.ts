/**
 * Checks a backup against its own records before it is trusted: backup_content.control against
 * content-crc, every file's size and CRC-32C, every data page (decompressed, checksum or header),
 * pg_control's internal CRC, and the WAL from start to stop LSN. Streams every file: memory stays
 * bounded whatever the backup's size.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Context } from '@temporalio/activity';
import { backupContentCrc, parseBackupContent, S_IFDIR, S_IFMT, type FileEntry } from '../../core/backupContent';
import { parseBackupControl, type BackupControl } from '../../core/backupControl';
import { catalogPaths } from '../../core/catalogPaths';
import { crc32c } from '../../core/crc32c';
import { PageRecordSplitter, type StoredPage } from '../../core/dataFileFormat';
import { lsnToBigInt, walFileName } from '../../core/lsn';
import { relationBlockNumber, verifyPage } from '../../core/pageChecksum';
import { parsePgControl, verifyPgControlCrc } from '../../core/pgControl';
import { pglzDecompress } from '../../core/pglz';
import { BLCKSZ, DEFAULT_XLOG_SEG_SIZE, type CompressAlg } from '../../core/types';
import type { BackupId } from '../../core/backupId';

export interface LoadedBackup {
  backupDir: string;
  control: BackupControl;
  entries: FileEntry[];
}

/** Reads backup.control and backup_content.control, checking the latter against content-crc. */
export async function loadBackup(backupPath: string, instance: string, backupId: string): Promise<LoadedBackup> {
  const backupDir = catalogPaths.backupDir(backupPath, instance, backupId as BackupId);
  const controlFile = catalogPaths.backupControl(backupDir);
  const control = parseBackupControl(await fs.readFile(controlFile, 'utf8'), controlFile);
  const contentFile = catalogPaths.backupContent(backupDir);
  const text = await fs.readFile(contentFile, 'utf8');
  if (control.contentCrc && backupContentCrc(text) !== control.contentCrc) {
    throw new Error(`file "${contentFile}" is damaged: its CRC ${backupContentCrc(text)} differs from content-crc ${control.contentCrc} in backup.control`);
  }
  return { backupDir, control, entries: parseBackupContent(text, contentFile) };
}

export function storedPath(backupDir: string, e: FileEntry): string {
  return e.externalDirNum === 0
    ? path.join(catalogPaths.databaseDir(backupDir), e.path)
    : path.join(catalogPaths.externalDir(backupDir, e.externalDirNum), e.path);
}

/** Decompresses one stored page (spec §5.2): raw when its size is BLCKSZ. */
export function pageFromRecord(p: StoredPage, alg: CompressAlg, file: string): Buffer {
  if (p.compressedSize === BLCKSZ) return p.payload;
  try {
    const page = alg === 'pglz' ? Buffer.from(pglzDecompress(p.payload, BLCKSZ)) : zlib.inflateSync(p.payload);
    if (page.length !== BLCKSZ) throw new Error(`decompressed to ${page.length} bytes`);
    return page;
  } catch (e) {
    throw new Error(`backup file "${file}", block ${p.block}: cannot decompress page (${alg}): ${(e as Error).message}`);
  }
}

/** Reads a stored file in chunks, feeding CRC and, for data files, the page records. */
export async function readStored(file: string, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<{ size: number; crc: number }> {
  const fh = await fs.open(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let crc = 0;
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      crc = crc32c(chunk, crc);
      size += bytesRead;
      await onChunk(chunk);
    }
  } finally {
    await fh.close();
  }
  return { size, crc };
}

async function checkFile(backupDir: string, e: FileEntry, control: BackupControl, blockValidation: boolean): Promise<string | null> {
  const file = storedPath(backupDir, e);
  if (e.path === 'global/pg_control' && e.externalDirNum === 0) {
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch {
      return `file "${file}" is missing`;
    }
    if (!verifyPgControlCrc(buf) || parsePgControl(buf).crc !== e.crc) return `file "${file}" is damaged: its CRC does not match`;
    return null;
  }
  if (e.size <= 0 && !(e.isDatafile && e.size === 0)) {
    // Empty files may or may not be stored; what is stored must be empty.
    const st = await fs.stat(file).catch(() => null);
    return st && st.size !== 0 ? `file "${file}" should be empty but has ${st.size} bytes` : null;
  }
  if (e.isDatafile && e.size === 0) return null;
  const splitter = e.isDatafile ? new PageRecordSplitter(file) : null;
  const checksums = control.checksumVersion !== 0;
  let pageError: string | null = null;
  let got: { size: number; crc: number };
  try {
    got = await readStored(file, (chunk) => {
      if (!splitter || pageError) return;
      for (const rec of splitter.push(chunk)) {
        if (!blockValidation) continue;
        const page = pageFromRecord(rec, e.compressAlg, file);
        const v = verifyPage(page, 0, relationBlockNumber(e.segno ?? 0, rec.block), checksums);
        if (v.verdict === 'bad-checksum') {
          pageError = `file "${file}", block ${rec.block}: page verification failed, calculated checksum ${v.expected} but expected ${v.found}`;
        } else if (v.verdict === 'bad-header') {
          pageError = `file "${file}", block ${rec.block}: page header is invalid`;
        }
      }
    });
    splitter?.end();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `file "${file}" is missing`;
    return (err as Error).message;
  }
  if (got.size !== e.size) return `file "${file}" has size ${got.size}, backup_content.control says ${e.size}`;
  if (got.crc !== e.crc) return `file "${file}" is damaged: its CRC is ${got.crc}, backup_content.control says ${e.crc}`;
  return pageError;
}

/**
 * validate (spec §11) of one backup: a list of problems, empty when the backup is restorable.
 * Reports every damaged file (up to a limit) rather than the first.
 */
export async function validateBackupForRestore(input: {
  backupPath: string;
  instance: string;
  backupId: string;
  skipBlockValidation: boolean;
}): Promise<{ ok: boolean; errors: string[] }> {
  const ctx = Context.current();
  let loaded: LoadedBackup;
  try {
    loaded = await loadBackup(input.backupPath, input.instance, input.backupId);
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  const { backupDir, control, entries } = loaded;
  const errors: string[] = [];
  let n = 0;
  for (const e of entries) {
    if ((e.mode & S_IFMT) === S_IFDIR) continue;
    const err = await checkFile(backupDir, e, control, !input.skipBlockValidation);
    if (err) errors.push(err);
    if (errors.length >= 100) break;
    ctx.heartbeat({ checked: ++n });
  }
  const seg = BigInt(walSegSizeOf(entries) || DEFAULT_XLOG_SEG_SIZE);
  if (control.stream) {
    const names = new Set(entries.filter((e) => e.externalDirNum === 0 && e.path.startsWith('pg_wal/')).map((e) => e.path.slice(7)));
    for (let s = lsnToBigInt(control.startLsn) / seg; s <= lsnToBigInt(control.stopLsn) / seg; s++) {
      const name = walFileName(control.timelineId, s, Number(seg));
      if (!names.has(name)) errors.push(`WAL segment ${name} needed for consistency (start LSN ${control.startLsn}, stop LSN ${control.stopLsn}) is not in the backup`);
    }
  }
  return { ok: errors.length === 0, errors };
}

/** The WAL segment size of a STREAM backup, from its streamed segments. */
function walSegSizeOf(entries: FileEntry[]): number {
  const seg = entries.find((e) => e.externalDirNum === 0 && /^pg_wal\/[0-9A-F]{24}$/.test(e.path));
  return seg ? seg.size : 0;
}
