/**
 * PostgreSQL's data page checksum (src/include/storage/checksum_impl.h) and page header sanity
 * (spec §5.6). It runs over every page of every backup, so it works on 32-bit words in place:
 * Math.imul for the FNV-style multiply, no allocation per page.
 */
import { BLCKSZ, RELSEG_SIZE } from './types';

const N_SUMS = 32;
const FNV_PRIME = 16777619;
// Int32 everywhere: V8 keeps int32 values unboxed, while Uint32 values above 2^31 become doubles.
const BASE = new Int32Array([
  0x5b1f36e9, 0xb8525960, 0x02ab50aa, 0x1de66d2a, 0x79ff467a, 0x9bb9f8a3, 0x217e7cd2, 0x83e13d2c,
  0xf8d4474f, 0xe39eb970, 0x42c6ae16, 0x993216fa, 0x7b093b5d, 0x98daff3c, 0xf718902a, 0x0b1c9cdb,
  0xe58f764b, 0x187636bc, 0x5d7b3bb1, 0xe73de7de, 0x92bec979, 0xcca6c0b2, 0x304a0979, 0x85aa43d4,
  0x783125bb, 0x6ca8eaa2, 0xe407eac6, 0x4b5cfc3e, 0x9fbf8c76, 0x15ca20be, 0xf2ca9fd3, 0x959bd756,
]);
const sums = new Int32Array(N_SUMS);
const aligned = new Int32Array(BLCKSZ / 4);

/**
 * pg_checksum_page(page, blkno): `blkno` is the block number within the relation (segment number ×
 * RELSEG_SIZE + block in the segment file), not within the file.
 */
export function pageChecksum(buf: Uint8Array, offset: number, blkno: number): number {
  let words: Int32Array;
  const at = buf.byteOffset + offset;
  if (at % 4 === 0) {
    words = new Int32Array(buf.buffer, at, BLCKSZ / 4);
  } else {
    new Uint8Array(aligned.buffer).set(buf.subarray(offset, offset + BLCKSZ));
    words = aligned;
  }
  // The first row apart: pd_checksum (bytes 8–9, the low half of word 2 on little-endian) counts as zero.
  for (let j = 0; j < N_SUMS; j++) {
    const t = BASE[j] ^ (j === 2 ? words[2] & -65536 : words[j]);
    sums[j] = Math.imul(t, FNV_PRIME) ^ (t >>> 17);
  }
  for (let i = N_SUMS; i < BLCKSZ / 4; i += N_SUMS) {
    for (let j = 0; j < N_SUMS; j++) {
      const t = sums[j] ^ words[i + j];
      sums[j] = Math.imul(t, FNV_PRIME) ^ (t >>> 17);
    }
  }
  let c = 0;
  for (let j = 0; j < N_SUMS; j++) {
    let s = sums[j];
    s = Math.imul(s, FNV_PRIME) ^ (s >>> 17);
    s = Math.imul(s, FNV_PRIME) ^ (s >>> 17);
    c ^= s;
  }
  c = (c ^ blkno) >>> 0;
  return (c % 65535) + 1;
}

export function relationBlockNumber(segno: number, blockInSegment: number): number {
  return segno * RELSEG_SIZE + blockInSegment;
}

export type PageVerdict = 'ok' | 'zero' | 'bad-header' | 'bad-checksum';

function isAllZero(buf: Uint8Array, offset: number): boolean {
  for (let i = offset; i < offset + BLCKSZ; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Header sanity as PageIsVerified checks it (spec §5.6). */
export function pageHeaderIsSane(buf: Uint8Array, offset: number): boolean {
  const u16 = (o: number) => buf[offset + o] | (buf[offset + o + 1] << 8);
  const flags = u16(10);
  const lower = u16(12);
  const upper = u16(14);
  const special = u16(16);
  const sizeVersion = u16(18);
  return (
    (sizeVersion & 0xff00) === BLCKSZ &&
    (flags & ~0x0007) === 0 &&
    lower >= 24 &&
    lower <= upper &&
    upper <= special &&
    special <= BLCKSZ &&
    special % 8 === 0
  );
}

/**
 * Judges one page: new all-zero pages are fine; a checksum is compared only when the cluster has
 * them. `expected` is the checksum computed (so callers need not compute it twice).
 */
export function verifyPage(buf: Uint8Array, offset: number, blkno: number, checksums: boolean): { verdict: PageVerdict; expected?: number; found?: number } {
  if (!pageHeaderIsSane(buf, offset)) return { verdict: isAllZero(buf, offset) ? 'zero' : 'bad-header' };
  if (!checksums) return { verdict: 'ok' };
  const found = buf[offset + 8] | (buf[offset + 9] << 8);
  const expected = pageChecksum(buf, offset, blkno);
  return { verdict: expected === found ? 'ok' : 'bad-checksum', expected, found };
}
