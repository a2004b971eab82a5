/**
 * backup_content.control (spec §4): one line per file or directory of a backup.
 */
import { crc32c } from './crc32c';
import { COMPRESS_ALGS, type CompressAlg } from './types';

export interface FileEntry {
  /** Path relative to PGDATA, or to the external directory root when externalDirNum > 0. */
  path: string;
  /** Bytes stored in the backup; 0 for directories/empty files; -1 = unchanged since parent. */
  size: number;
  /** Full st_mode (type bits included), decimal in the file. */
  mode: number;
  isDatafile: boolean;
  isCfs: boolean;
  /** CRC-32C of the bytes stored (data files) or of the content (others). */
  crc: number;
  compressAlg: CompressAlg;
  externalDirNum: number;
  dbOid: number;
  /** Bytes before compression and without page headers; absent in the file means = size. */
  fullSize?: number;
  segno?: number;
  linked?: string;
  nBlocks?: number;
  nHeaders?: number;
  hdrCrc?: number;
  hdrOff?: number;
  hdrSize?: number;
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export function isDirectoryEntry(e: FileEntry): boolean {
  return (e.mode & S_IFMT) === S_IFDIR;
}

/** One backup_content.control line, trailing '\n' included (spec §4 field order and spacing). */
export function serializeFileEntry(e: FileEntry): string {
  let s =
    `{"path":"${e.path}", "size":"${e.size}", "mode":"${e.mode >>> 0}", ` +
    `"is_datafile":"${e.isDatafile ? 1 : 0}", "is_cfs":"${e.isCfs ? 1 : 0}", "crc":"${e.crc >>> 0}", ` +
    `"compress_alg":"${e.compressAlg}", "external_dir_num":"${e.externalDirNum}", "dbOid":"${e.dbOid >>> 0}"`;
  if (e.fullSize !== undefined && e.fullSize !== 0 && e.fullSize !== e.size) s += `,"full_size":"${e.fullSize}"`;
  if (e.isDatafile) s += `,"segno":"${e.segno ?? 0}"`;
  if (e.linked) s += `,"linked":"${e.linked}"`;
  if (e.nBlocks !== undefined && e.nBlocks > 0) s += `,"n_blocks":"${e.nBlocks}"`;
  if (e.nHeaders !== undefined && e.nHeaders > 0) {
    s += `,"n_headers":"${e.nHeaders}","hdr_crc":"${(e.hdrCrc ?? 0) >>> 0}","hdr_off":"${e.hdrOff ?? 0}","hdr_size":"${e.hdrSize ?? 0}"`;
  }
  return s + '}\n';
}

/** The whole file: entries in the order given. */
export function serializeBackupContent(entries: readonly FileEntry[]): string {
  let out = '';
  for (const e of entries) out += serializeFileEntry(e);
  return out;
}

/** content-crc (spec §4): CRC-32C of the exact bytes of the file. */
export function backupContentCrc(text: string): number {
  return crc32c(Buffer.from(text, 'utf8'));
}

/** Tolerant scan of one line: every `"name":"value"` pair, in order. */
function scanPairs(line: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const n = line.length;
  while (i < n) {
    const q1 = line.indexOf('"', i);
    if (q1 < 0) break;
    const q2 = line.indexOf('"', q1 + 1);
    if (q2 < 0) break;
    const name = line.slice(q1 + 1, q2);
    let j = q2 + 1;
    while (j < n && (line[j] === ' ' || line[j] === '\t')) j++;
    if (line[j] !== ':') {
      i = q2 + 1;
      continue;
    }
    j++;
    while (j < n && (line[j] === ' ' || line[j] === '\t')) j++;
    if (line[j] !== '"') {
      i = j;
      continue;
    }
    const v2 = line.indexOf('"', j + 1);
    if (v2 < 0) break;
    if (!out.has(name)) out.set(name, line.slice(j + 1, v2));
    i = v2 + 1;
  }
  return out;
}

function numberOf(text: string): number | null {
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t)) return null;
  const v = Number(t);
  return Number.isSafeInteger(v) ? v : -1; // too big ⇒ -1, as pg_probackup does
}

/**
 * Parses backup_content.control. Blank lines are skipped; path, size, mode, is_datafile and crc are
 * mandatory (missing or non-numeric ⇒ Error naming `source` and the line number). An absent
 * full_size reads as size. Entries keep file order; callers sort.
 */
export function parseBackupContent(text: string, source: string): FileEntry[] {
  const out: FileEntry[] = [];
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const f = scanPairs(line);
    const where = `${source} line ${ln + 1}`;
    const req = (name: string): string => {
      const v = f.get(name);
      if (v === undefined) throw new Error(`missing field "${name}" in ${where}`);
      return v;
    };
    const num = (name: string, v: string): number => {
      const x = numberOf(v);
      if (x === null) throw new Error(`invalid value "${v}" of field "${name}" in ${where}`);
      return x;
    };
    const opt = (name: string): number | undefined => {
      const v = f.get(name);
      return v === undefined ? undefined : num(name, v);
    };
    const path = req('path');
    const size = num('size', req('size'));
    const e: FileEntry = {
      path,
      size,
      mode: num('mode', req('mode')),
      isDatafile: num('is_datafile', req('is_datafile')) !== 0,
      isCfs: (opt('is_cfs') ?? 0) !== 0,
      crc: num('crc', req('crc')) >>> 0,
      compressAlg: 'none',
      externalDirNum: opt('external_dir_num') ?? 0,
      dbOid: opt('dbOid') ?? 0,
      fullSize: opt('full_size') ?? size,
    };
    const alg = f.get('compress_alg');
    if (alg !== undefined) {
      const a = alg.toLowerCase();
      if (!(COMPRESS_ALGS as readonly string[]).includes(a)) {
        if (a !== '' && a !== 'not-defined') throw new Error(`invalid compress_alg "${alg}" in ${where}`);
      } else e.compressAlg = a as CompressAlg;
    }
    const segno = opt('segno');
    if (segno !== undefined) e.segno = segno;
    const linked = f.get('linked');
    if (linked) e.linked = linked;
    const nBlocks = opt('n_blocks');
    if (nBlocks !== undefined) e.nBlocks = nBlocks;
    const nHeaders = opt('n_headers');
    if (nHeaders !== undefined) {
      e.nHeaders = nHeaders;
      const hc = opt('hdr_crc');
      if (hc !== undefined) e.hdrCrc = hc >>> 0;
      const ho = opt('hdr_off');
      if (ho !== undefined) e.hdrOff = ho;
      const hs = opt('hdr_size');
      if (hs !== undefined) e.hdrSize = hs;
    }
    out.push(e);
  }
  return out;
}
