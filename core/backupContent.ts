/**
 * backup_content.control (spec §4): one line per file or directory of a backup.
 */
import type { CompressAlg } from './types';

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
