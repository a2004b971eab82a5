import { crc32c as defaultCrc32c, crc32cCombine, crc32cPatch, crc32cTable, crc32cIsNative } from '../../core/crc32c';

/** Bit-at-a-time reference implementation. */
function slowCrc(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

it('uses the hardware CRC-32C on this machine (x86-64 Linux)', () => {
  expect(crc32cIsNative).toBe(true);
});

describe.each([
  ['default (native)', defaultCrc32c],
  ['table', crc32cTable],
])('crc32c %s', (_name, crc32c) => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('is 0 for empty input and unsigned', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
    const v = crc32c(Buffer.from('some text'));
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(0xffffffff);
  });

  it('known vectors (RFC 3720)', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    const inc = new Uint8Array(32).map((_, i) => i);
    expect(crc32c(inc)).toBe(0x46dd794e);
  });

  it('agrees with the bitwise reference for all lengths and offsets', () => {
    const data = new Uint8Array(300);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
    for (let len = 0; len < 40; len++) {
      for (let off = 0; off < 9; off++) {
        const sub = data.subarray(off, off + len);
        expect(crc32c(sub)).toBe(slowCrc(sub));
      }
    }
    expect(crc32c(data)).toBe(slowCrc(data));
  });

  it('continues a running CRC', () => {
    const a = Buffer.from('hello, ');
    const b = Buffer.from('world and more bytes here');
    expect(crc32c(b, crc32c(a))).toBe(crc32c(Buffer.concat([a, b])));
    expect(crc32c(a, crc32c(new Uint8Array(0)))).toBe(crc32c(a));
    const big = Buffer.alloc(100003, 0x5a);
    let run = crc32c(big.subarray(0, 0));
    for (let i = 0; i < big.length; i += 4097) run = crc32c(big.subarray(i, i + 4097), run);
    expect(run).toBe(crc32c(big));
  });
});

describe('crc32cPatch', () => {
  test('equals the CRC of the patched bytes, wherever the patch is', () => {
    const crypto = require('node:crypto') as typeof import('node:crypto');
    for (const [len, off, n] of [[100, 0, 10], [100, 90, 10], [8200 * 5, 8200 * 2 + 8, 8192], [1 << 20, 12345, 8192], [33, 5, 1]]) {
      const file = crypto.randomBytes(len);
      const page = crypto.randomBytes(n);
      const patched = Buffer.from(file);
      page.copy(patched, off);
      expect(crc32cPatch(defaultCrc32c(file), file.subarray(off, off + n), page, len - off - n)).toBe(defaultCrc32c(patched));
    }
  });
});

describe('crc32cCombine', () => {
  it('gives the CRC of a concatenation from its parts, for parts of any length including empty ones', () => {
    const data = Buffer.alloc(300_001);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    for (const cuts of [[0], [1], [8200], [150_000], [300_001], [0, 300_001], [7, 8200 * 3, 200_000]]) {
      const bounds = [0, ...cuts, data.length];
      let crc = 0;
      for (let k = 0; k + 1 < bounds.length; k++) {
        const part = data.subarray(bounds[k], bounds[k + 1]);
        crc = crc32cCombine(crc, defaultCrc32c(part), part.length);
      }
      expect(crc).toBe(slowCrc(data));
    }
  });
});
