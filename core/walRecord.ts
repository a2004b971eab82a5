/**
 * Reading PostgreSQL 15 WAL records (src/include/access/xlogrecord.h, xlog_internal.h) far enough
 * to know which blocks each record touches. Pure: the caller supplies WAL pages by LSN.
 *
 * Layout: every 8 kB page starts with a header (24 bytes; 40 on a segment's first page) whose
 * magic is 0xD110; records are 8-byte aligned and may cross pages, the continuation following the
 * next page's header. A record is a 24-byte XLogRecord {tot_len u32, xid u32, prev u64, info u8,
 * rmid u8, pad 2, crc u32}, then block headers {id u8, fork_flags u8, data_length u16}
 * [image header {length u16, hole_offset u16, bimg_info u8} [hole_length u16 if holed and
 * compressed]] [RelFileNode {spc, db, rel} u32×3 unless SAME_REL] {blkno u32}, then ids 252..255
 * for toplevel xid, origin and main data, then the payloads.
 */
import { crc32c } from './crc32c';

export const XLOG_PAGE_MAGIC = 0xd110;
const RM_XLOG_ID = 0;
const XLR_INFO_MASK = 0x0f;
const XLOG_SWITCH = 0x40;
const XLOG_BLCKSZ = 8192;
const SIZE_OF_RECORD = 24;
const XLP_LONG_HEADER = 0x0002;
const BKPBLOCK_FORK_MASK = 0x0f;
const BKPBLOCK_HAS_IMAGE = 0x10;
const BKPBLOCK_SAME_REL = 0x80;
const BKPIMAGE_HAS_HOLE = 0x01;
const BKPIMAGE_COMPRESSED = 0x04 | 0x08 | 0x10;
const XLR_MAX_BLOCK_ID = 32;
const XLR_BLOCK_ID_DATA_SHORT = 255;
const XLR_BLOCK_ID_DATA_LONG = 254;
const XLR_BLOCK_ID_ORIGIN = 253;
const XLR_BLOCK_ID_TOPLEVEL_XID = 252;

export const FORK_NAMES = ['main', 'fsm', 'vm', 'init'] as const;

export interface BlockRef {
  spc: number;
  db: number;
  rel: number;
  fork: number;
  blk: number;
  hasImage: boolean;
}

export interface WalRecord {
  lsn: bigint;
  /** LSN just past the record (before alignment). */
  end: bigint;
  totLen: number;
  xid: number;
  rmid: number;
  info: number;
  blocks: BlockRef[];
  /** The record's main data (the last payload): commit timestamps, restore point names. */
  mainData: Uint8Array;
}

/** Returns the 8 kB WAL page that starts at `pageLsn`, or null when it is not available. */
export type PageSource = (pageLsn: bigint) => Uint8Array | null;

const align8 = (v: bigint) => (v + 7n) & ~7n;

function pageHeaderSize(page: Uint8Array): number {
  const info = page[2] | (page[3] << 8);
  return info & XLP_LONG_HEADER ? 40 : 24;
}

function pageIsValid(page: Uint8Array, pageLsn: bigint): boolean {
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  return dv.getUint16(0, true) === XLOG_PAGE_MAGIC && dv.getBigUint64(8, true) === pageLsn;
}

/**
 * Reads `n` bytes of record data from `pos`, skipping page headers; null when WAL ends (a page
 * missing or not the one expected, as after the end of a partially filled last segment).
 */
function readSpan(src: PageSource, pos: bigint, n: number): { data: Uint8Array; next: bigint } | null {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const pageLsn = pos - (pos % BigInt(XLOG_BLCKSZ));
    const page = src(pageLsn);
    if (!page || !pageIsValid(page, pageLsn)) return null;
    let off = Number(pos - pageLsn);
    if (off === 0) off = pageHeaderSize(page);
    const take = Math.min(n - got, XLOG_BLCKSZ - off);
    out.set(page.subarray(off, off + take), got);
    got += take;
    pos = pageLsn + BigInt(off + take);
  }
  return { data: out, next: pos };
}

export function parseRecordBlocks(rec: Uint8Array): BlockRef[] {
  return decodeRecordHeaders(rec).blocks;
}

/** Block references and the length of the main data, which DecodeXLogRecord places last. */
function decodeRecordHeaders(rec: Uint8Array): { blocks: BlockRef[]; mainLen: number } {
  const dv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const blocks: BlockRef[] = [];
  let p = SIZE_OF_RECORD;
  let last: { spc: number; db: number; rel: number } | null = null;
  // Headers end where the payloads begin: as in DecodeXLogRecord, stop once the bytes left equal
  // the payload lengths the headers announced.
  let payload = 0;
  let mainLen = 0;
  while (rec.length - p > payload) {
    const id = rec[p];
    if (id === XLR_BLOCK_ID_DATA_SHORT) {
      mainLen = rec[p + 1];
      payload += mainLen;
      p += 2;
      continue;
    }
    if (id === XLR_BLOCK_ID_DATA_LONG) {
      mainLen = dv.getUint32(p + 1, true);
      payload += mainLen;
      p += 5;
      continue;
    }
    if (id === XLR_BLOCK_ID_ORIGIN) {
      p += 3;
      continue;
    }
    if (id === XLR_BLOCK_ID_TOPLEVEL_XID) {
      p += 5;
      continue;
    }
    if (id > XLR_MAX_BLOCK_ID) throw new Error(`invalid block id ${id} in WAL record (rmgr ${rec[17]}, info 0x${rec[16].toString(16)})`);
    const forkFlags = rec[p + 1];
    payload += dv.getUint16(p + 2, true);
    p += 4;
    const hasImage = (forkFlags & BKPBLOCK_HAS_IMAGE) !== 0;
    if (hasImage) {
      payload += dv.getUint16(p, true);
      const bimgInfo = rec[p + 4];
      p += 5;
      if (bimgInfo & BKPIMAGE_HAS_HOLE && bimgInfo & BKPIMAGE_COMPRESSED) p += 2;
    }
    if (!(forkFlags & BKPBLOCK_SAME_REL)) {
      last = { spc: dv.getUint32(p, true), db: dv.getUint32(p + 4, true), rel: dv.getUint32(p + 8, true) };
      p += 12;
    } else if (!last) {
      throw new Error('WAL record refers to the previous relation without naming one');
    }
    blocks.push({ ...last, fork: forkFlags & BKPBLOCK_FORK_MASK, blk: dv.getUint32(p, true), hasImage });
    p += 4;
  }
  return { blocks, mainLen };
}

/**
 * Yields the records from `start` (a record start, or a page start) until `end` or the end of the
 * available WAL, following XLOG_SWITCH records to the next segment (of `segSize` bytes). Each record's CRC is checked: a torn or recycled tail ends the scan, as in recovery.
 */
export function* readWalRecords(src: PageSource, start: bigint, end: bigint, segSize = 16 * 1024 * 1024): Generator<WalRecord> {
  let pos = start;
  while (pos < end) {
    if (pos % BigInt(XLOG_BLCKSZ) === 0n) {
      const page = src(pos);
      if (!page || !pageIsValid(page, pos)) return;
      pos += BigInt(pageHeaderSize(page));
    }
    const head = readSpan(src, pos, 4);
    if (!head) return;
    const totLen = new DataView(head.data.buffer).getUint32(0, true);
    if (totLen < SIZE_OF_RECORD) return; // zeroed: the end of WAL
    const whole = readSpan(src, pos, totLen);
    if (!whole) return;
    const rec = whole.data;
    const dv = new DataView(rec.buffer);
    if (crc32c(rec.subarray(0, 20), crc32c(rec.subarray(SIZE_OF_RECORD))) !== dv.getUint32(20, true)) return;
    const { blocks, mainLen } = decodeRecordHeaders(rec);
    yield {
      lsn: pos,
      end: whole.next,
      totLen,
      xid: dv.getUint32(4, true),
      info: rec[16],
      rmid: rec[17],
      blocks,
      mainData: rec.subarray(rec.length - mainLen),
    };
    // XLOG_SWITCH ends its segment: the next record starts the next one (the rest is padding).
    pos = rec[17] === RM_XLOG_ID && (rec[16] & ~XLR_INFO_MASK) === XLOG_SWITCH ? ((whole.next + BigInt(segSize) - 1n) / BigInt(segSize)) * BigInt(segSize) : align8(whole.next);
  }
}
