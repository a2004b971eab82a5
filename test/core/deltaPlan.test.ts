import { deltaKeepsPage, deltaPageFilter, incrementalDataSize, parentBlockCounts } from '../../core/deltaPlan';
import type { FileEntry } from '../../core/backupContent';
import type { Lsn } from '../../core/lsn';

function page(lsnHi: number, lsnLo: number): Buffer {
  const p = Buffer.alloc(8192);
  p.writeUInt32LE(lsnHi, 0);
  p.writeUInt32LE(lsnLo, 4);
  return p;
}

describe('DELTA page filter', () => {
  const f = deltaPageFilter('1/4C000028' as Lsn, 10)!;

  it('keeps pages changed at or after the parent start LSN, drops older ones', () => {
    expect(f).toEqual({ minLsnHi: 1, minLsnLo: 0x4c000028, prevBlocks: 10 });
    expect(deltaKeepsPage(page(1, 0x4c000028), 0, 3, f)).toBe(true);
    expect(deltaKeepsPage(page(1, 0x4c000029), 0, 3, f)).toBe(true);
    expect(deltaKeepsPage(page(2, 0), 0, 3, f)).toBe(true);
    expect(deltaKeepsPage(page(1, 0x4c000027), 0, 3, f)).toBe(false);
    expect(deltaKeepsPage(page(0, 0xffffffff), 0, 3, f)).toBe(false);
  });

  it('keeps zeroed pages (LSN 0) and pages past the parent end of file', () => {
    expect(deltaKeepsPage(page(0, 0), 0, 3, f)).toBe(true);
    expect(deltaKeepsPage(page(0, 5), 0, 10, f)).toBe(true);
  });

  it('reads pd_lsn at the offset given', () => {
    const buf = Buffer.concat([page(0, 1), page(5, 0)]);
    expect(deltaKeepsPage(buf, 0, 0, f)).toBe(false);
    expect(deltaKeepsPage(buf, 8192, 0, f)).toBe(true);
  });

  it('has no filter for a file the parent lacks', () => {
    expect(deltaPageFilter('0/1' as Lsn, undefined)).toBeUndefined();
  });

  it('counts the parent blocks of data files only', () => {
    const e = (path: string, isDatafile: boolean, nBlocks?: number): FileEntry => ({
      path, size: 1, mode: 0o100600, isDatafile, isCfs: false, crc: 0, compressAlg: 'none', externalDirNum: 0, dbOid: 0, nBlocks,
    });
    expect([...parentBlockCounts([e('base/1/1', true, 4), e('base/1/2', true), e('base/1/1_fsm', false, 3)])]).toEqual([['0:base/1/1', 4], ['0:base/1/2', 0]]);
  });

  it('says -1 (unchanged since the parent) only for a file the parent had, with blocks, of which nothing was stored', () => {
    expect(incrementalDataSize(0, 0, 5, true)).toBe(-1);
    expect(incrementalDataSize(0, 0, 0, true)).toBe(0);
    expect(incrementalDataSize(8200, 1, 5, true)).toBe(8200);
    expect(incrementalDataSize(0, 0, 5, false)).toBe(0);
  });
});
