import * as crypto from 'node:crypto';
import { pglzCompress, pglzDecompress } from '../../core/pglz';

/** Vectors written by hand from the format description in pg_lzcompress.c. */
test('decodes hand-written streams: literals, short and long matches, overlapping copies', () => {
  // ctrl 0b0000_1000: 3 literals 'a','b','c', then a tag: offset 3, length 6 → "abcabcabc"
  expect(Buffer.from(pglzDecompress(Uint8Array.from([0x08, 0x61, 0x62, 0x63, 0x03, 0x03]), 9)).toString()).toBe('abcabcabc');
  // one literal 'x', then offset 1 length 18+2 = 20 (3-byte tag) → 21 × 'x'
  expect(Buffer.from(pglzDecompress(Uint8Array.from([0x02, 0x78, 0x0f, 0x01, 0x02]), 21)).toString()).toBe('x'.repeat(21));
  // offsets above 255 use the high nibble: 300 literals then a copy of the first 3 at offset 300
  const lit = Buffer.alloc(300, 0).map((_, i) => (i * 7) & 0xff);
  const stream: number[] = [];
  for (let i = 0; i < 300; i += 8) {
    stream.push(0);
    for (let k = i; k < Math.min(i + 8, 300); k++) stream.push(lit[k]);
  }
  // 300 = 37*8 + 4: the last ctrl byte holds 4 literals, bit 4 is our tag
  stream[stream.length - 5] = 1 << 4;
  stream.push(((300 & 0xf00) >> 4) | 0, 300 & 0xff);
  const out = pglzDecompress(Uint8Array.from(stream), 303);
  expect(Buffer.from(out.subarray(300))).toEqual(Buffer.from(lit.subarray(0, 3)));
});

test('rejects corrupt input', () => {
  expect(() => pglzDecompress(Uint8Array.from([0x01, 0x05, 0x00]), 10)).toThrow(/offset|corrupt/);
  expect(() => pglzDecompress(Uint8Array.from([0x00, 0x61]), 5)).toThrow(/corrupt/);
});

test('round-trips pages: text-like, sparse, random', () => {
  const page = Buffer.alloc(8192);
  for (let i = 0; i < 8192; i++) page[i] = i % 512 < 100 ? (i * 31) & 0xff : 0;
  const c = pglzCompress(page)!;
  expect(c.length).toBeLessThan(8192 / 4);
  expect(Buffer.from(pglzDecompress(c, 8192))).toEqual(page);
  const text = Buffer.from(Array.from({ length: 400 }, (_, i) => `row ${i} ${crypto.createHash('md5').update(String(i)).digest('hex')}`).join('|')).subarray(0, 8192);
  const ct = pglzCompress(text)!;
  expect(ct.length).toBeLessThan(text.length);
  expect(Buffer.from(pglzDecompress(ct, text.length))).toEqual(text);
  expect(pglzCompress(crypto.randomBytes(8192))).toBeNull();
});
