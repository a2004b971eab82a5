import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createWasmPageDeflate } from '../../core/pageDeflate';
import { createWasmPageInflate } from '../../core/pageInflate';
import { PAGE_INFLATE_SOURCE_SHA256 } from '../../core/pageInflateWasm';
import { wasmSourceDigest } from '../helpers/wasmSource';
import { BLCKSZ, pages, rng } from '../helpers/testPages';

const inflate = createWasmPageInflate();
const wasmDeflate = createWasmPageDeflate();
const ourDeflate = (p: Buffer): Buffer | null => {
  const z = wasmDeflate(p);
  return z && Buffer.from(z);
};

/** What zlib makes of a stream: the page it inflates to, or null for an error or another size. */
function zlibPage(z: Buffer): Buffer | null {
  try {
    const p = zlib.inflateSync(z);
    return p.length === BLCKSZ ? p : null;
  } catch {
    return null;
  }
}

/**
 * The WebAssembly inflate must never disagree with zlib: when it answers, zlib inflates the stream
 * to the same page; when it declines, the caller asks zlib anyway (and a page zlib reads is only
 * slower). `mustAnswer` for streams it is meant to read itself.
 */
function agrees(label: string, z: Buffer, mustAnswer: boolean): void {
  const into = Buffer.alloc(BLCKSZ, 0xa5);
  const answered = inflate(z, into);
  const theirs = zlibPage(z);
  if (answered) expect([label, theirs !== null && into.equals(theirs)]).toEqual([label, true]);
  if (mustAnswer) expect([label, answered, theirs !== null]).toEqual([label, true, true]);
}

/** Streams of every kind of block zlib writes: stored, fixed, dynamic, several blocks per page. */
function zlibStreams(p: Buffer): Array<[string, Buffer]> {
  const { Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED } = zlib.constants;
  return [
    ['level 0 (stored)', zlib.deflateSync(p, { level: 0 })],
    ['level 1', zlib.deflateSync(p, { level: 1 })],
    ['level 1, 8 KiB window', zlib.deflateSync(p, { level: 1, windowBits: 13 })],
    ['level 6', zlib.deflateSync(p, { level: 6 })],
    ['level 9, 512 B window', zlib.deflateSync(p, { level: 9, windowBits: 9 })],
    ['memLevel 1 (many blocks)', zlib.deflateSync(p, { level: 5, memLevel: 1 })],
    ['filtered', zlib.deflateSync(p, { strategy: Z_FILTERED })],
    ['huffman only', zlib.deflateSync(p, { strategy: Z_HUFFMAN_ONLY })],
    ['rle', zlib.deflateSync(p, { strategy: Z_RLE })],
    ['fixed codes', zlib.deflateSync(p, { strategy: Z_FIXED })],
  ];
}

it('is built from the C source in the tree (else: bash scripts/build-wasm.sh)', () => {
  expect(wasmSourceDigest(path.join(__dirname, '../../core/pageInflate.c'))).toBe(PAGE_INFLATE_SOURCE_SHA256);
});

it('reads every kind of stream zlib writes for a page as zlib does', () => {
  for (const [name, p] of pages()) {
    for (const [how, z] of zlibStreams(p)) {
      agrees(`${name}, ${how}`, z, true);
      // Again, now that the tables of its header are kept.
      agrees(`${name}, ${how}, again`, z, true);
    }
  }
});

it('reads our deflate, whose pages share their codes, after any page before', () => {
  // core/pageDeflate.c sends a page with the last page's trees when they fit: the same header,
  // which this inflate reuses the tables of. Every pair in turn, so that a stale table shows.
  const all = pages();
  for (const [before, p] of all) {
    const first = ourDeflate(p)!;
    for (const [name, q] of all) {
      agrees(`${before}`, first, true);
      const z = ourDeflate(q)!;
      agrees(`${name} after ${before}`, z, true);
      expect(inflate(z, Buffer.alloc(BLCKSZ)) && true).toBe(true);
      ourDeflate(p);
    }
  }
});

it('declines what is not one whole page: other sizes, trailing bytes, a short output buffer', () => {
  const p = pages().find(([name]) => name === 'heap page')![1];
  const z = zlib.deflateSync(p);
  for (const n of [0, 1, 100, BLCKSZ - 1, BLCKSZ + 1, BLCKSZ * 2]) {
    expect([n, inflate(zlib.deflateSync(Buffer.alloc(n, 3)), Buffer.alloc(BLCKSZ))]).toEqual([n, false]);
  }
  expect(inflate(Buffer.concat([z, Buffer.from([0])]), Buffer.alloc(BLCKSZ))).toBe(false);
  expect(inflate(z, Buffer.alloc(BLCKSZ - 1))).toBe(false);
  expect(inflate(Buffer.alloc(0), Buffer.alloc(BLCKSZ))).toBe(false);
  expect(inflate(Buffer.alloc(BLCKSZ * 3, 0x78), Buffer.alloc(BLCKSZ))).toBe(false);
  // A preset dictionary, which a page never has.
  const dict = zlib.deflateSync(p, { dictionary: Buffer.from('dictionary') });
  expect(inflate(dict, Buffer.alloc(BLCKSZ))).toBe(false);
  // And it still reads a good one afterwards.
  agrees('after the declined', z, true);
});

it('never answers differently from zlib for damaged streams: bits flipped, bytes cut, bytes changed', () => {
  const r = rng(20261201);
  const all = pages();
  let tried = 0;
  for (let round = 0; round < 6; round++) {
    for (const [name, p] of all) {
      const sources: Array<[string, Buffer]> = [
        ['ours', ourDeflate(p)!],
        ['level 1', zlib.deflateSync(p, { level: 1 })],
        ['fixed', zlib.deflateSync(p, { strategy: zlib.constants.Z_FIXED })],
      ];
      for (const [how, good] of sources) {
        // The good stream first, so that its header's tables are kept when the damaged one comes.
        agrees(`${name}, ${how}`, good, true);
        const z = Buffer.from(good);
        const kind = r() % 4;
        // Damage the header more often than not: that is where kept tables could go stale.
        const at = r() % 2 ? r() % Math.min(z.length, 96) : r() % z.length;
        if (kind === 0) z[at] ^= 1 << (r() % 8);
        else if (kind === 1) z[at] = r() & 0xff;
        else if (kind === 2) z[at] ^= 0xff;
        const damaged = kind === 3 ? z.subarray(0, at) : z;
        agrees(`${name}, ${how}, damage ${kind} at ${at}`, damaged, false);
        tried++;
      }
    }
  }
  expect(tried).toBeGreaterThan(1000);
});
