/**
 * CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, init 0xFFFFFFFF, final xor 0xFFFFFFFF —
 * the checksum pg_probackup uses for backup files, backup_content.control and pg_control (spec §5.4).
 * It runs over every byte of every backup: the hardware instruction (SSE 4.2 / ARMv8 CRC) through
 * @node-rs/crc32 where its prebuilt binary loads, about ten times the slicing-by-8 table code below,
 * which stays as the fallback for other platforms.
 */
const POLY = 0x82f63b78;

type Crc32cFn = (buf: Uint8Array, prev?: number) => number;

function loadNative(): Crc32cFn | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('@node-rs/crc32') as { crc32c(input: Uint8Array, initialState?: number | null): number };
    const f: Crc32cFn = (buf, prev) => (buf.length === 0 ? (prev ?? 0) : native.crc32c(buf as Buffer, prev ?? 0) >>> 0);
    // Trust it only when it agrees with the definition (the standard check value of "123456789").
    return f(Buffer.from('123456789')) === 0xe3069283 && f(Buffer.from('56789'), f(Buffer.from('1234'))) === 0xe3069283 ? f : null;
  } catch {
    return null;
  }
}

const T = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) {
      const p = t[(s - 1) * 256 + i];
      t[s * 256 + i] = (p >>> 8) ^ t[p & 0xff];
    }
  }
  return t;
})();

/**
 * CRC-32C of `buf`. `prev` is a finished CRC of the preceding bytes, so a running CRC can be
 * continued: crc32c(b, crc32c(a)) === crc32c(concat(a, b)). Returns an unsigned 32-bit number.
 */
export function crc32cTable(buf: Uint8Array, prev?: number): number {
  let crc = prev === undefined ? 0xffffffff : ~prev >>> 0;
  const n = buf.length;
  let i = 0;
  const end8 = n - (n & 7);
  while (i < end8) {
    const a = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ crc;
    crc =
      T[1792 + (a & 0xff)] ^
      T[1536 + ((a >>> 8) & 0xff)] ^
      T[1280 + ((a >>> 16) & 0xff)] ^
      T[1024 + (a >>> 24)] ^
      T[768 + buf[i + 4]] ^
      T[512 + buf[i + 5]] ^
      T[256 + buf[i + 6]] ^
      T[buf[i + 7]];
    i += 8;
  }
  while (i < n) {
    crc = T[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}

const native = loadNative();

export const crc32c: Crc32cFn = native ?? crc32cTable;
export const crc32cIsNative = native !== null;

/** a·b modulo the CRC polynomial, in the reflected bit order of the table (zlib's multmodp). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) >>> 0) {
      p ^= b;
      if (((a & (m - 1)) >>> 0) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod P for k = 0..31. */
const X2N = (() => {
  const t = new Uint32Array(32);
  let p = 0x40000000; // x^1
  t[0] = p;
  for (let k = 1; k < 32; k++) t[k] = p = multModP(p, p);
  return t;
})();

/** x^(8·n) mod P: the effect of n zero bytes on an unconditioned CRC. */
function zerosOperator(n: number): number {
  let p = 0x80000000; // x^0
  let k = 3;
  while (n > 0) {
    if (n % 2) p = multModP(X2N[k & 31], p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/**
 * The CRC-32C of a file after `oldBytes` were replaced in place by `newBytes` (same length), with
 * `bytesAfter` bytes following them, from the file's old CRC — without reading the rest. CRC is
 * linear: the change is the CRC of the XOR of old and new, pushed through the bytes after it.
 */
export function crc32cPatch(crc: number, oldBytes: Uint8Array, newBytes: Uint8Array, bytesAfter: number): number {
  if (oldBytes.length !== newBytes.length) throw new Error('crc32cPatch: old and new bytes differ in length');
  const delta = new Uint8Array(oldBytes.length);
  for (let i = 0; i < delta.length; i++) delta[i] = oldBytes[i] ^ newBytes[i];
  const raw = ~crc32cTable(delta, 0xffffffff) >>> 0;
  return (crc ^ multModP(zerosOperator(bytesAfter), raw)) >>> 0;
}

/** The CRC-32C of A followed by B, from the CRCs of A and of B and the length of B. */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(zerosOperator(lengthB), crcA) ^ crcB) >>> 0;
}
