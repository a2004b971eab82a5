/**
 * DELTA backups (pg_probackup's meaning): every page of a data file is read, and a page is stored
 * only when it may differ from what the parent chain restores. A page whose pd_lsn is older than
 * the parent's start LSN was last changed before the parent's checkpoint, so the parent chain has
 * it as it is now; any later change (hint bits included, with data checksums) gives the page a
 * newer LSN. Pages with LSN 0 (new or zeroed) and pages past the parent's end of the file are
 * always stored: nothing older holds them. A file the parent did not have is stored whole.
 * Pure: the copy applies the filter page by page on its file thread.
 */
import { lsnToBigInt, type Lsn } from './lsn';
import type { FileEntry } from './backupContent';

/** What a file thread needs to decide per page; plain numbers, so it crosses threads as is. */
export interface DeltaPageFilter {
  /** The parent's start LSN as its two pd_lsn halves (xlogid, xrecoff). */
  minLsnHi: number;
  minLsnLo: number;
  /** Blocks of the file in the parent: pages from this block on are new. */
  prevBlocks: number;
}

/** The filter of one data file, or undefined when the parent lacks the file (store every page). */
export function deltaPageFilter(parentStartLsn: Lsn, prevBlocks: number | undefined): DeltaPageFilter | undefined {
  if (prevBlocks === undefined) return undefined;
  const v = lsnToBigInt(parentStartLsn);
  return { minLsnHi: Number(v >> 32n), minLsnLo: Number(v & 0xffffffffn), prevBlocks };
}

/** Whether the page at `off` (block `block` of its segment file) must be stored. */
export function deltaKeepsPage(page: Uint8Array, off: number, block: number, f: DeltaPageFilter): boolean {
  if (block >= f.prevBlocks) return true;
  // pd_lsn = {u32 xlogid, u32 xrecoff}, little-endian (x86-64 layout).
  const hi = (page[off] | (page[off + 1] << 8) | (page[off + 2] << 16) | (page[off + 3] << 24)) >>> 0;
  const lo = (page[off + 4] | (page[off + 5] << 8) | (page[off + 6] << 16) | (page[off + 7] << 24)) >>> 0;
  if (hi === 0 && lo === 0) return true;
  return hi > f.minLsnHi || (hi === f.minLsnHi && lo >= f.minLsnLo);
}

/** Blocks of each data file of the parent, by `externalDirNum:path` (absent: not in the parent). */
export function parentBlockCounts(parentEntries: readonly FileEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of parentEntries) {
    if (e.isDatafile) out.set(fileKey(e), e.nBlocks ?? 0);
  }
  return out;
}

export function fileKey(e: { path: string; externalDirNum: number }): string {
  return `${e.externalDirNum}:${e.path}`;
}

/**
 * backup_content.control's size of an incremental data file (spec §7.4): -1 ("unchanged since the
 * parent, look in the chain") when the parent had the file and no page of it was stored.
 */
export function incrementalDataSize(writeSize: number, pagesStored: number, nBlocks: number, inParent: boolean): number {
  return inParent && pagesStored === 0 && nBlocks > 0 ? -1 : writeSize;
}
