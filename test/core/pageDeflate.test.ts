import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createWasmPageDeflate } from '../../core/pageDeflate';
import { PAGE_DEFLATE_SOURCE_SHA256 } from '../../core/pageDeflateWasm';
import { wasmSourceDigest } from '../helpers/wasmSource';
import { BLCKSZ, pages } from '../helpers/testPages';

const wasmPageDeflate = createWasmPageDeflate();
const deflate = (p: Buffer): Buffer | null => {
  const z = wasmPageDeflate(p);
  return z && Buffer.from(z);
};

it('is built from the C source in the tree (else: bash scripts/build-wasm.sh)', () => {
  expect(wasmSourceDigest(path.join(__dirname, '../../core/pageDeflate.c'))).toBe(PAGE_DEFLATE_SOURCE_SHA256);
});

it('writes zlib streams that zlib inflates back to the page, with the 8 KiB window their header names', () => {
  for (const [name, p] of pages()) {
    const z = deflate(p);
    expect([name, z === null]).toEqual([name, false]);
    expect(z!.length).toBeLessThan(BLCKSZ);
    expect([name, zlib.inflateSync(z!).equals(p)]).toEqual([name, true]); // pg_probackup's uncompress()
    expect([name, zlib.inflateSync(z!, { windowBits: 13 }).equals(p)]).toEqual([name, true]);
  }
});

it('compresses nearly as well as zlib level 1', () => {
  for (const [name, p] of pages()) {
    const ours = deflate(p)!.length;
    const theirs = zlib.deflateSync(p, { level: 1, windowBits: 13 }).length;
    // Small streams differ by their tree headers. One probe per hash finds fewer of the short
    // copies dense LZ77 test pages are made of (up to 15 % larger); real pages: 3-5 %.
    expect([name, ours <= theirs * 1.2 + 40]).toEqual([name, true]);
  }
});

it('gives null for a page it cannot make smaller, and inputs shorter than a page work too', () => {
  expect(deflate(randomBytes(BLCKSZ))).toBeNull();
  for (const n of [4, 5, 258, 1000, 8191]) {
    const p = Buffer.alloc(n, 7);
    if (n > 8) p.write('header', 0);
    const z = deflate(p);
    // A stream has 6 bytes of header and trailer: the shortest inputs cannot shrink.
    if (n < 6) expect(z).toBeNull();
    else expect(zlib.inflateSync(z!).equals(p)).toBe(true);
  }
  expect(() => wasmPageDeflate(Buffer.alloc(BLCKSZ + 1))).toThrow(/at most 8192 bytes, not 8193/);
});

it('writes streams that stand alone whatever pages came before, across the hash generation wrapping too', () => {
  // Trees are kept from page to page: every page after every other must still inflate by itself,
  // and trees kept from an unlike page must not cost it more than the bound above.
  const all = pages();
  const bound = all.map(([, q]) => zlib.deflateSync(q, { level: 1, windowBits: 13 }).length * 1.2 + 40);
  for (const [before, p] of all) {
    all.forEach(([name, q], k) => {
      deflate(p);
      const z = deflate(q)!;
      expect([before, name, zlib.inflateSync(z).equals(q), z.length <= bound[k]]).toEqual([before, name, true, true]);
    });
  }
  // 2^31 / 16384: the hash table's generation wraps after about 131 thousand pages.
  const small = Buffer.from('abcdabcdabcdabcd');
  for (let i = 0; i < 140_000; i++) wasmPageDeflate(small);
  for (const [name, p] of all.reverse()) expect([name, zlib.inflateSync(deflate(p)!).equals(p)]).toEqual([name, true]);
});
