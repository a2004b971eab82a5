import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { deflatePage, inflatePage, pageDeflateIsWasm, pageInflateIsWasm, pageZlibReused, zlibDeflatePage } from '../../activities/threads/pageZlib';

const BLCKSZ = 8192;
const scratchPage = Buffer.alloc(BLCKSZ + 1);

function page(seed: number, entropy: number): Buffer {
  const p = Buffer.alloc(BLCKSZ);
  const noise = randomBytes(BLCKSZ);
  for (let i = 0; i < BLCKSZ; i++) p[i] = i % 16 < entropy ? noise[i] : (i + seed) & 0xff;
  return p;
}

it('reuses zlib contexts on this Node, deflates level 1 and inflates in WebAssembly', () => {
  expect(pageZlibReused).toBe(true);
  expect(pageDeflateIsWasm()).toBe(true);
  expect(pageInflateIsWasm()).toBe(true);
});

it('deflates pages into standard zlib streams that inflate back, page after page, at any level', () => {
  for (const level of [1, 6, 9]) {
    for (let k = 0; k < 50; k++) {
      const p = page(k, k % 12);
      const z = deflatePage(p, level);
      expect(z).not.toBeNull();
      expect(z!.length).toBeLessThan(BLCKSZ);
      expect(zlib.inflateSync(z!).equals(p)).toBe(true); // what pg_probackup's uncompress() reads
      expect(inflatePage(Buffer.from(z!), scratchPage).equals(p)).toBe(true);
    }
  }
});

it('deflates level 1 with zlib too (where WebAssembly is missing)', () => {
  for (let k = 0; k < 20; k++) {
    const p = page(k, k % 12);
    const z = zlibDeflatePage(p, 1);
    expect(zlib.inflateSync(z!).equals(p)).toBe(true);
  }
  expect(zlibDeflatePage(randomBytes(BLCKSZ), 1)).toBeNull();
});

it('inflates into the caller\'s buffer, page after page, writing nothing past a page and one byte', () => {
  const into = Buffer.alloc(BLCKSZ + 64, 0xa5);
  const pages = Array.from({ length: 200 }, (_, k) => page(k, k % 9));
  for (const [k, p] of pages.entries()) {
    const b = inflatePage(Buffer.from(deflatePage(p, 1)!), into);
    expect(b.buffer).toBe(into.buffer);
    expect(b.byteOffset).toBe(into.byteOffset);
    expect(b.length).toBe(BLCKSZ);
    expect(b.equals(pages[k])).toBe(true);
  }
  // Even a stream longer than a page stops at the byte that tells it is too long.
  expect(() => inflatePage(zlib.deflateSync(Buffer.alloc(BLCKSZ * 2)), into)).toThrow();
  expect(into.subarray(BLCKSZ + 1).equals(Buffer.alloc(63, 0xa5))).toBe(true);
});

it('gives null for a page deflate cannot make smaller', () => {
  expect(deflatePage(randomBytes(BLCKSZ), 1)).toBeNull();
});

it('inflates streams made with the default window too (older backups, pg_probackup)', () => {
  const p = page(3, 5);
  expect(inflatePage(zlib.deflateSync(p, { level: 9 }), scratchPage).equals(p)).toBe(true);
});

it('refuses what is not one page, and keeps working after', () => {
  const p = page(1, 4);
  const z = Buffer.from(deflatePage(p, 1)!);
  expect(() => inflatePage(z.subarray(0, z.length - 6), scratchPage)).toThrow();
  expect(() => inflatePage(Buffer.from('not zlib at all'), scratchPage)).toThrow();
  expect(() => inflatePage(zlib.deflateSync(Buffer.alloc(BLCKSZ * 2)), scratchPage)).toThrow(/decompressed to 16384 bytes/);
  expect(() => inflatePage(zlib.deflateSync(Buffer.alloc(100)), scratchPage)).toThrow(/decompressed to 100 bytes/);
  expect(inflatePage(z, scratchPage).equals(p)).toBe(true);
});
