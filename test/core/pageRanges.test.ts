import { PIECE_BLOCKS, pageRanges } from '../../core/pageRanges';

it('covers every block once, in order, in pieces of at most the piece size that differ by at most one block', () => {
  for (const total of [0, 1, PIECE_BLOCKS - 1, PIECE_BLOCKS, PIECE_BLOCKS + 1, 131072, 32863, 27422]) {
    const r = pageRanges(total);
    expect(r[0].from).toBe(0);
    expect(r[r.length - 1].to).toBe(total);
    for (let k = 1; k < r.length; k++) expect(r[k].from).toBe(r[k - 1].to);
    const sizes = r.map((x) => x.to - x.from);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(PIECE_BLOCKS);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  }
  expect(pageRanges(131072)).toHaveLength(16); // a 1 GiB segment
  expect(pageRanges(PIECE_BLOCKS)).toEqual([{ from: 0, to: PIECE_BLOCKS }]);
});

it('refuses a block count that is not a count', () => {
  expect(() => pageRanges(-1)).toThrow(/bad block count -1/);
  expect(() => pageRanges(1.5)).toThrow(/bad block count 1.5/);
});
