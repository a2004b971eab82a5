/**
 * PostgreSQL's data page checksum (src/include/storage/checksum_impl.h) and page header sanity
 * (spec §5.6). It runs over every page of every backup (about 40 % of a file thread's time in a
 * backup or a validation): in WebAssembly SIMD where the engine has it (its 32 sums are eight
 * 4-lane vectors, about four times the JavaScript), else in JavaScript on 32-bit words in place,
 * Math.imul for the FNV-style multiply, no allocation per page.
 */
import { BASE_OFFSETS_AT, PAGE_CHECKSUM_WASM } from './pageChecksumWasm';
import { BLCKSZ, RELSEG_SIZE } from './types';
import { instantiateWasm } from './wasm';

const N_SUMS = 32;
const FNV_PRIME = 16777619;
// Int32 everywhere: V8 keeps int32 values unboxed, while Uint32 values above 2^31 become doubles.
const BASE = new Int32Array([
  0x5b1f36e9, 0xb8525960, 0x02ab50aa, 0x1de66d2a, 0x79ff467a, 0x9bb9f8a3, 0x217e7cd2, 0x83e13d2c,
  0xf8d4474f, 0xe39eb970, 0x42c6ae16, 0x993216fa, 0x7b093b5d, 0x98daff3c, 0xf718902a, 0x0b1c9cdb,
  0xe58f764b, 0x187636bc, 0x5d7b3bb1, 0xe73de7de, 0x92bec979, 0xcca6c0b2, 0x304a0979, 0x85aa43d4,
  0x783125bb, 0x6ca8eaa2, 0xe407eac6, 0x4b5cfc3e, 0x9fbf8c76, 0x15ca20be, 0xf2ca9fd3, 0x959bd756,
]);
const aligned = new Int32Array(BLCKSZ / 4);
const ROWS = BLCKSZ / 4 / N_SUMS;

// One Int32Array view per ArrayBuffer, reused page after page: a new view for every page costs more
// than the checksum of the header fields it replaces.
let viewOf: ArrayBufferLike | null = null;
let view: Int32Array<ArrayBufferLike> = aligned;
let words: Int32Array<ArrayBufferLike> = aligned;

/** Points `words` at the page and returns the page's first word's index in it. */
function locate(buf: Uint8Array, offset: number): number {
  const at = buf.byteOffset + offset;
  if (at % 4 !== 0) {
    new Uint8Array(aligned.buffer).set(buf.subarray(offset, offset + BLCKSZ));
    words = aligned;
    return 0;
  }
  if (viewOf !== buf.buffer) {
    view = new Int32Array(buf.buffer, 0, Math.floor(buf.buffer.byteLength / 4));
    viewOf = buf.buffer;
  }
  words = view;
  return at / 4;
}

const mix = (t: number): number => Math.imul(t, FNV_PRIME) ^ (t >>> 17);

/**
 * pg_checksum_page(page, blkno): `blkno` is the block number within the relation (segment number ×
 * RELSEG_SIZE + block in the segment file), not within the file.
 *
 * PostgreSQL keeps 32 sums, one per column of 32-bit words, each folding its column row by row.
 * The columns are independent, so this walks them four at a time, down the whole page, with the
 * four sums in locals: four multiply chains in flight instead of one, and no sums array in memory
 * (about twice as fast as row by row).
 */
export function pageChecksumJs(buf: Uint8Array, offset: number, blkno: number): number {
  const base = locate(buf, offset);
  const w32 = words; // a local: the loop below reads it 2,048 times
  let c = 0;
  for (let j = 0; j < N_SUMS; j += 4) {
    const w = base + j;
    // The first row: pd_checksum (bytes 8–9, the low half of word 2 on little-endian) counts as zero.
    let s0 = mix(BASE[j] ^ w32[w]);
    let s1 = mix(BASE[j + 1] ^ w32[w + 1]);
    let s2 = mix(BASE[j + 2] ^ (j === 0 ? w32[w + 2] & -65536 : w32[w + 2]));
    let s3 = mix(BASE[j + 3] ^ w32[w + 3]);
    for (let i = w + N_SUMS, end = w + ROWS * N_SUMS; i < end; i += N_SUMS) {
      const t0 = s0 ^ w32[i];
      const t1 = s1 ^ w32[i + 1];
      const t2 = s2 ^ w32[i + 2];
      const t3 = s3 ^ w32[i + 3];
      s0 = Math.imul(t0, FNV_PRIME) ^ (t0 >>> 17);
      s1 = Math.imul(t1, FNV_PRIME) ^ (t1 >>> 17);
      s2 = Math.imul(t2, FNV_PRIME) ^ (t2 >>> 17);
      s3 = Math.imul(t3, FNV_PRIME) ^ (t3 >>> 17);
    }
    // Two rounds of zeros, as pg_checksum_block ends.
    c ^= mix(mix(s0)) ^ mix(mix(s1)) ^ mix(mix(s2)) ^ mix(mix(s3));
  }
  c = (c ^ blkno) >>> 0;
  return (c % 65535) + 1;
}

/** The page copied into the module's memory, pd_checksum zeroed there; null without SIMD. */
const simd = (() => {
  try {
    const { exports, memory } = instantiateWasm(PAGE_CHECKSUM_WASM);
    const base = new Uint8Array(BASE.buffer, BASE.byteOffset, BASE.byteLength);
    memory.set(base, BASE_OFFSETS_AT); // little-endian words, as the module loads them
    const block = exports.block as () => number;
    return (buf: Uint8Array, offset: number): number => {
      memory.set(buf.subarray(offset, offset + BLCKSZ), 0);
      memory[8] = 0;
      memory[9] = 0;
      return block();
    };
  } catch {
    return null;
  }
})();

/** Whether pageChecksum runs in WebAssembly SIMD here. */
export const pageChecksumIsSimd = simd !== null;

/**
 * pg_checksum_page(page, blkno): `blkno` is the block number within the relation (segment number ×
 * RELSEG_SIZE + block in the segment file), not within the file.
 */
export function pageChecksum(buf: Uint8Array, offset: number, blkno: number): number {
  if (!simd) return pageChecksumJs(buf, offset, blkno);
  const c = (simd(buf, offset) ^ blkno) >>> 0;
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
