/**
 * Test pages for the page codecs (core/pageDeflate.c, core/pageInflate.c): every kind of input
 * deflate meets, made the same on every run so that a failing page can be made again.
 */
export const BLCKSZ = 8192;

/** A deterministic generator. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0);
}

/** Pages of every kind deflate meets: runs, periods, small alphabets, tuples, noise with holes. */
export function pages(): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  out.push(['zeros', Buffer.alloc(BLCKSZ)]);
  out.push(['0xff', Buffer.alloc(BLCKSZ, 0xff)]);
  for (const period of [1, 2, 3, 4, 5, 7, 8, 100, 257, 258, 259, 300, 4095, 4096, 6000]) {
    const r = rng(period);
    const unit = Buffer.from(Array.from({ length: period }, () => r() & 0xff));
    const p = Buffer.alloc(BLCKSZ);
    for (let i = 0; i < BLCKSZ; i++) p[i] = unit[i % period];
    out.push([`period ${period}`, p]);
  }
  for (const bits of [1, 2, 4, 5, 6, 7]) {
    const r = rng(bits * 31);
    out.push([`alphabet of ${1 << bits}`, Buffer.from(Array.from({ length: BLCKSZ }, () => r() >>> (32 - bits)))]);
  }
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed * 7919);
    const noise = rng(seed * 104729);
    const p = Buffer.from(Array.from({ length: BLCKSZ }, () => noise() >>> 24));
    // Copies of earlier stretches at every distance and length, as LZ77 parses them.
    for (let at = 16; at < BLCKSZ; ) {
      const len = 3 + (r() % (seed % 3 === 0 ? 400 : 40));
      const from = r() % at;
      for (let k = 0; k < len && at < BLCKSZ; k++) p[at++] = p[from + k];
      at += r() % (seed % 4 === 0 ? 2 : 30);
    }
    out.push([`copies ${seed}`, p]);
  }
  // A heap page of pgbench_accounts: line pointers, then 121-byte tuples differing in a few bytes.
  const heap = Buffer.alloc(BLCKSZ, 0x20);
  heap.fill(0, 0, 24);
  for (let t = 0; t < 61; t++) {
    heap.writeUInt32LE((BLCKSZ - 121 * (t + 1)) | (121 << 17) | (1 << 15), 24 + 4 * t);
    const at = BLCKSZ - 121 * (t + 1);
    heap.fill(0, at, at + 23);
    heap.writeUInt32LE(731 + t, at);
    heap.writeUInt32LE(40001 + t * 3, at + 23);
  }
  out.push(['heap page', heap]);
  return out;
}
