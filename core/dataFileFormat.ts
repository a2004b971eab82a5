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

  /** The entries so far, without a terminating one (a piece of a file: see finishDataFile). */
  entries(): Buffer {
    return this.buf.subarray(0, this.n * PAGE_HEADER2_SIZE);
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

/** A stored data file that does not hold page records as the format says: the backup is damaged. */
export class StoredFormatError extends Error {}

/**
 * Splits the bytes of a backup data file into its page records, whatever the chunking of the
 * reads: push() chunks as they come, take the complete records it returns.
 */
export class PageRecordSplitter {
  private pending: Buffer = EMPTY;
  /** File offset of the next chunk: error messages name where a bad record starts. */
  private offset: number;

  /** `start`: where in the file the first chunk begins (a piece of a large file). */
  constructor(
    private readonly source: string,
    start = 0,
  ) {
    this.offset = start;
  }

  /**
   * The complete records so far. No copies: the payloads are views of `chunk` (or of carried-over
   * bytes), valid only until the next call, so consume each record at once. Only the record that
   * straddles two chunks is copied, not the chunk.
   */
  push(chunk: Buffer): StoredPage[] {
    const out: StoredPage[] = [];
    const start = this.offset;
    this.offset += chunk.length;
    let o = 0;
    if (this.pending.length) {
      const at = start - this.pending.length;
      // Complete the carried-over record from the chunk's head: its header first, then its payload.
      let rec = this.pending;
      if (rec.length < PAGE_HEADER_SIZE) {
        o = Math.min(PAGE_HEADER_SIZE - rec.length, chunk.length);
        rec = Buffer.concat([rec, chunk.subarray(0, o)]);
        if (rec.length < PAGE_HEADER_SIZE) {
          this.pending = rec;
          return out;
        }
      }
      const rest = PAGE_HEADER_SIZE + this.recordSize(rec, 0, at) - rec.length;
      if (chunk.length - o < rest) {
        this.pending = Buffer.concat([rec, chunk.subarray(o)]);
        return out;
      }
      rec = Buffer.concat([rec, chunk.subarray(o, o + rest)]);
      out.push(this.record(rec, 0));
      o += rest;
      this.pending = EMPTY;
    }
    while (chunk.length - o >= PAGE_HEADER_SIZE) {
      const size = this.recordSize(chunk, o, start + o);
      if (chunk.length - o - PAGE_HEADER_SIZE < size) break;
      out.push(this.record(chunk, o));
      o += PAGE_HEADER_SIZE + size;
    }
    if (o < chunk.length) this.pending = Buffer.from(chunk.subarray(o));
    return out;
  }

  private recordSize(buf: Buffer, o: number, at: number): number {
    const size = buf.readInt32LE(o + 4);
    if (size <= 0 || size > BLCKSZ) {
      throw new StoredFormatError(`backup file "${this.source}" is corrupt: page record at offset ${at} has size ${size} (block ${buf.readUInt32LE(o)})`);
    }
    return size;
  }

  private record(buf: Buffer, o: number): StoredPage {
    const size = buf.readInt32LE(o + 4);
    return { block: buf.readUInt32LE(o), compressedSize: size, payload: buf.subarray(o + PAGE_HEADER_SIZE, o + PAGE_HEADER_SIZE + size) };
  }

  /** Throws when the file ended inside a record. */
  end(): void {
    if (this.pending.length) throw new StoredFormatError(`backup file "${this.source}" is truncated: ${this.pending.length} bytes of an incomplete page record at its end`);
  }
}
