/**
 * Data files inside a backup (spec §5.1, §5.3): each stored page is an 8-byte BackupPageHeader
 * {u32 block, i32 compressed_size} followed by its payload; page_header_map keeps, per file, a zlib
 * blob of 24-byte BackupPageHeader2 entries {u64 lsn, i32 block, i32 pos, u16 checksum, pad}
 * plus a terminating entry whose pos is the file's size.
 */
import { BLCKSZ } from './types';

export const PAGE_HEADER_SIZE = 8;
export const PAGE_HEADER2_SIZE = 24;

export function writePageHeader(buf: Buffer, off: number, block: number, compressedSize: number): void {
  buf.writeUInt32LE(block, off);
  buf.writeInt32LE(compressedSize, off + 4);
}

/** Collects BackupPageHeader2 entries of one file as it is written. */
export class PageHeaderMapBuilder {
  private buf = Buffer.alloc(PAGE_HEADER2_SIZE * 64);
  private n = 0;

  /** The entry of `page` (at `off`): its LSN is read from pd_lsn, without a BigInt per page. */
  addPage(page: Buffer, off: number, block: number, pos: number, checksum: number): void {
    this.ensure(this.n + 1);
    const o = this.n * PAGE_HEADER2_SIZE;
    // pd_lsn is {xlogid, xrecoff}; the u64 LSN is xlogid << 32 | xrecoff, little-endian.
    this.buf.writeUInt32LE(page.readUInt32LE(off + 4), o);
    this.buf.writeUInt32LE(page.readUInt32LE(off), o + 4);
    this.buf.writeInt32LE(block, o + 8);
    this.buf.writeInt32LE(pos, o + 12);
    this.buf.writeUInt16LE(checksum, o + 16);
    this.buf.fill(0, o + 18, o + 24);
    this.n++;
  }

  get count(): number {
    return this.n;
  }

  /** The raw array with the terminating entry {lsn 0, block 0, pos = file size, checksum 0}. */
  finish(fileSize: number): Buffer {
    this.ensure(this.n + 1);
    const o = this.n * PAGE_HEADER2_SIZE;
    this.buf.fill(0, o, o + PAGE_HEADER2_SIZE);
    this.buf.writeInt32LE(fileSize, o + 12);
    return this.buf.subarray(0, (this.n + 1) * PAGE_HEADER2_SIZE);
  }

  private ensure(n: number): void {
    if (n * PAGE_HEADER2_SIZE <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(n * PAGE_HEADER2_SIZE, this.buf.length * 2));
    this.buf.copy(bigger);
    this.buf = bigger;
  }
}

export interface PageHeader2 {
  lsn: bigint;
  block: number;
  pos: number;
  checksum: number;
}

export function parsePageHeaderArray(raw: Buffer): PageHeader2[] {
  const out: PageHeader2[] = [];
  for (let o = 0; o + PAGE_HEADER2_SIZE <= raw.length; o += PAGE_HEADER2_SIZE) {
    out.push({ lsn: raw.readBigUInt64LE(o), block: raw.readInt32LE(o + 8), pos: raw.readInt32LE(o + 12), checksum: raw.readUInt16LE(o + 16) });
  }
  return out;
}

/** pd_lsn of a page: xlogid (u32) then xrecoff (u32), little-endian on x86-64. */
export function pageLsn(page: Buffer, off = 0): bigint {
  return (BigInt(page.readUInt32LE(off)) << 32n) | BigInt(page.readUInt32LE(off + 4));
}

export function pageChecksumField(page: Buffer, off = 0): number {
  return page.readUInt16LE(off + 8);
}

export { BLCKSZ };

export interface StoredPage {
  block: number;
  /** Raw page when compressedSize === BLCKSZ, else compressed bytes. */
  payload: Buffer;
  compressedSize: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * Splits the bytes of a backup data file into its page records, whatever the chunking of the
 * reads: push() chunks as they come, take the complete records it returns.
 */
export class PageRecordSplitter {
  private pending: Buffer = EMPTY;

  constructor(private readonly source: string) {}

  /**
   * The complete records so far. No copies: the payloads are views of `chunk` (or of carried-over
   * bytes), valid only until the next call, so consume each record at once.
   */
  push(chunk: Buffer): StoredPage[] {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: StoredPage[] = [];
    let o = 0;
    while (buf.length - o >= PAGE_HEADER_SIZE) {
      const block = buf.readUInt32LE(o);
      const size = buf.readInt32LE(o + 4);
      if (size <= 0 || size > BLCKSZ) {
        throw new Error(`backup file "${this.source}" is corrupt: page record at offset ${o} has size ${size} (block ${block})`);
      }
      if (buf.length - o - PAGE_HEADER_SIZE < size) break;
      out.push({ block, compressedSize: size, payload: buf.subarray(o + PAGE_HEADER_SIZE, o + PAGE_HEADER_SIZE + size) });
      o += PAGE_HEADER_SIZE + size;
    }
    this.pending = o === buf.length ? EMPTY : Buffer.from(buf.subarray(o));
    return out;
  }

  /** Throws when the file ended inside a record. */
  end(): void {
    if (this.pending.length) throw new Error(`backup file "${this.source}" is truncated: ${this.pending.length} bytes of an incomplete page record at its end`);
  }
}
