import { BLCKSZ, PAGE_HEADER_SIZE, PageRecordSplitter, writePageHeader } from '../../core/dataFileFormat';

/** A stored data file of `n` records: raw pages and compressed ones of odd sizes. */
function storedFile(n: number, seed: number): { file: Buffer; records: { block: number; payload: Buffer }[] } {
  let x = seed;
  const rnd = (m: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % m);
  const records = Array.from({ length: n }, (_, i) => {
    const size = rnd(3) === 0 ? BLCKSZ : 1 + rnd(BLCKSZ - 1);
    return { block: i * 3 + rnd(3), payload: Buffer.from(Array.from({ length: size }, () => rnd(256))) };
  });
  const file = Buffer.concat(records.map((r) => {
    const h = Buffer.alloc(PAGE_HEADER_SIZE);
    writePageHeader(h, 0, r.block, r.payload.length);
    return Buffer.concat([h, r.payload]);
  }));
  return { file, records };
}

function splitAll(file: Buffer, cuts: number[]): { block: number; payload: Buffer }[] {
  const s = new PageRecordSplitter('f');
  const got: { block: number; payload: Buffer }[] = [];
  let from = 0;
  for (const to of [...cuts, file.length]) {
    // A fresh buffer per chunk, overwritten after the call: the splitter may keep no views of it.
    const chunk = Buffer.from(file.subarray(from, to));
    for (const r of s.push(chunk)) got.push({ block: r.block, payload: Buffer.from(r.payload) });
    chunk.fill(0xee);
    from = to;
  }
  s.end();
  return got;
}

test('records come out whole whatever the chunk boundaries (inside headers, payloads, 1-byte chunks)', () => {
  const { file, records } = storedFile(40, 7);
  const cutSets = [
    [],
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
    Array.from({ length: 200 }, (_, i) => Math.floor(((i + 1) * file.length) / 201)),
    [PAGE_HEADER_SIZE - 3, PAGE_HEADER_SIZE + 5, 9000, 9001, 9002, 20000],
    Array.from({ length: Math.floor(file.length / 4096) }, (_, i) => (i + 1) * 4096),
  ];
  for (const cuts of cutSets) {
    const got = splitAll(file, cuts.filter((c) => c > 0 && c < file.length));
    expect(got.map((r) => r.block)).toEqual(records.map((r) => r.block));
    got.forEach((r, i) => expect(r.payload.equals(records[i].payload)).toBe(true));
  }
});

test('a truncated file and a bad record size are reported with the file offset', () => {
  const { file } = storedFile(3, 11);
  expect(() => splitAll(file.subarray(0, file.length - 1), [100])).toThrow(/is truncated/);
  const bad = Buffer.from(file);
  const second = PAGE_HEADER_SIZE + bad.readInt32LE(4);
  bad.writeInt32LE(BLCKSZ + 1, second + 4);
  expect(() => splitAll(bad, [second + 2])).toThrow(new RegExp(`page record at offset ${second} has size ${BLCKSZ + 1}`));
});
