/** A data file's page headers from its backup's page_header_map (spec §5.3). */
import * as fs from 'node:fs/promises';
import * as zlib from 'node:zlib';
import type { FileEntry } from '../../core/backupContent';
import { catalogPaths } from '../../core/catalogPaths';
import { crc32c } from '../../core/crc32c';
import { PAGE_HEADER2_SIZE } from '../../core/dataFileFormat';

/** The zlib blob of the file's page headers, as stored; undefined when the entry has none. */
export async function readHeaderBlob(backupDir: string, e: FileEntry): Promise<Buffer | undefined> {
  if (!e.nHeaders || e.hdrOff === undefined || !e.hdrSize) return undefined;
  const fh = await fs.open(catalogPaths.pageHeaderMap(backupDir), 'r');
  try {
    const buf = Buffer.alloc(e.hdrSize);
    const { bytesRead } = await fh.read(buf, 0, e.hdrSize, e.hdrOff);
    if (bytesRead !== e.hdrSize) throw new Error(`page_header_map of "${backupDir}" is truncated at the headers of "${e.path}"`);
    return buf;
  } finally {
    await fh.close();
  }
}

/**
 * The raw header array (nHeaders entries and the terminating one), checked against the entry's
 * hdrCrc; undefined when the entry has none or they do not check out (the caller then reads the
 * file without them, and its own CRC check reports damage).
 */
export async function readPageHeaders(backupDir: string, e: FileEntry): Promise<Buffer | undefined> {
  const blob = await readHeaderBlob(backupDir, e).catch(() => undefined);
  if (!blob) return undefined;
  try {
    const raw = zlib.inflateSync(blob);
    return e.hdrCrc === undefined || crc32c(raw) === e.hdrCrc ? raw : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where each page record of a data file starts in its stored file, from its page headers (record
 * nHeaders: the file's size), for a file of more than `moreThan` records, so that it can be read
 * in pieces. Undefined when it is smaller, or its headers do not describe the file as catalogued:
 * it is then read whole.
 */
export async function recordStarts(backupDir: string, e: FileEntry, moreThan: number): Promise<((i: number) => number) | undefined> {
  const n = e.nHeaders ?? 0;
  if (!e.isDatafile || e.size <= 0 || n <= moreThan) return undefined;
  const headers = await readPageHeaders(backupDir, e);
  if (!headers || headers.length !== (n + 1) * PAGE_HEADER2_SIZE) return undefined;
  const start = (i: number) => headers.readInt32LE(i * PAGE_HEADER2_SIZE + 12);
  return start(0) === 0 && start(n) === e.size ? start : undefined;
}
