/**
 * PostgreSQL's pglz format (src/common/pg_lzcompress.c), as pg_probackup stores pglz pages.
 * A control byte announces the next 8 items, LSB first: 0 = one literal byte, 1 = a match tag of
 * 2 bytes [hi nibble: offset bits 8–11, lo nibble: length-3], [offset bits 0–7], plus a third byte
 * (length-18) when the nibble is 15. Offsets 1..4095, lengths 3..273.
 */
const MAX_OFFSET = 0x0fff;
const MAX_MATCH = 273;
const HASH_SIZE = 8192;
const MAX_CHAIN = 32;
/** PGLZ_strategy_always, as pg_probackup compresses pages: match_size_good 128, match_size_drop 6 (%). */
const GOOD_MATCH = 128;
const GOOD_DROP_PERCENT = 6;

/**
 * Compresses with PGLZ_strategy_always semantics: returns null when the result would not be
 * smaller than the input (the caller then stores the data raw).
 */
export function pglzCompress(src: Uint8Array): Uint8Array | null {
  const n = src.length;
  if (n < 4) return null;
  const out = new Uint8Array(n + Math.ceil(n / 8) + 4);
  const head = new Int32Array(HASH_SIZE).fill(-1);
  const prev = new Int32Array(n).fill(-1);
  const hash = (i: number) => ((src[i] << 6) ^ (src[i + 1] << 3) ^ src[i + 2]) & (HASH_SIZE - 1);
  let op = 0;
  let ctrlPos = 0;
  let ctrlBit = 8;
  const insert = (i: number) => {
    if (i + 2 >= n) return;
    const h = hash(i);
    prev[i] = head[h];
    head[h] = i;
  };
  let ip = 0;
  while (ip < n) {
    if (ctrlBit === 8) {
      ctrlPos = op++;
      out[ctrlPos] = 0;
      ctrlBit = 0;
    }
    if (op + 4 > n) return null; // not shrinking: give up early, as pglz does
    let bestLen = 0;
    let bestOff = 0;
    if (ip + 2 < n) {
      let cand = head[hash(ip)];
      let good = GOOD_MATCH;
      for (let chain = 0; cand >= 0 && chain < MAX_CHAIN; chain++, cand = prev[cand]) {
        const off = ip - cand;
        if (off > MAX_OFFSET) break;
        const max = Math.min(MAX_MATCH, n - ip);
        // A candidate can only do better if it also matches at bestLen: one byte rules most out.
        if (bestLen > 0 && (bestLen >= max || src[cand + bestLen] !== src[ip + bestLen])) {
          good -= (good * GOOD_DROP_PERCENT) / 100;
          continue;
        }
        let len = 0;
        while (len < max && src[cand + len] === src[ip + len]) len++;
        if (len > bestLen) {
          bestLen = len;
          bestOff = off;
          if (len >= good) break;
        }
        // As pglz: each step down the chain asks less of a match to stop there.
        good -= (good * GOOD_DROP_PERCENT) / 100;
      }
    }
    if (bestLen >= 3) {
      out[ctrlPos] |= 1 << ctrlBit;
      if (bestLen > 17) {
        out[op++] = ((bestOff & 0xf00) >> 4) | 0x0f;
        out[op++] = bestOff & 0xff;
        out[op++] = bestLen - 18;
      } else {
        out[op++] = ((bestOff & 0xf00) >> 4) | (bestLen - 3);
        out[op++] = bestOff & 0xff;
      }
      for (let k = 0; k < bestLen; k++) insert(ip + k);
      ip += bestLen;
    } else {
      out[op++] = src[ip];
      insert(ip);
      ip++;
    }
    ctrlBit++;
  }
  return op < n ? out.subarray(0, op) : null;
}

/** Decompresses into exactly `rawSize` bytes; throws on input that does not describe that many. */
export function pglzDecompress(src: Uint8Array, rawSize: number): Uint8Array {
  const dst = new Uint8Array(rawSize);
  let sp = 0;
  let dp = 0;
  while (sp < src.length && dp < rawSize) {
    let ctrl = src[sp++];
    for (let bit = 0; bit < 8 && sp < src.length && dp < rawSize; bit++, ctrl >>= 1) {
      if (ctrl & 1) {
        if (sp + 1 >= src.length) throw new Error('pglz: truncated match tag');
        let len = (src[sp] & 0x0f) + 3;
        const off = ((src[sp] & 0xf0) << 4) | src[sp + 1];
        sp += 2;
        if (len === 18) {
          if (sp >= src.length) throw new Error('pglz: truncated match length');
          len += src[sp++];
        }
        if (off === 0 || off > dp) throw new Error(`pglz: match offset ${off} before the start of the output`);
        len = Math.min(len, rawSize - dp);
        for (let k = 0; k < len; k++, dp++) dst[dp] = dst[dp - off];
      } else {
        dst[dp++] = src[sp++];
      }
    }
  }
  if (dp !== rawSize || sp !== src.length) {
    throw new Error(`pglz: compressed data is corrupt (decoded ${dp} of ${rawSize} bytes, used ${sp} of ${src.length})`);
  }
  return dst;
}
