import type { FileEntry } from '../../core/backupContent';
import { chainFileSources } from '../../core/restoreChain';

const file = (path: string, size: number, extra: Partial<FileEntry> = {}): FileEntry => ({
  path, size, mode: 0o100600, isDatafile: false, isCfs: false, crc: 0, compressAlg: 'none', externalDirNum: 0, dbOid: 0, ...extra,
});
const data = (path: string, size: number, nBlocks: number, nHeaders: number): FileEntry => file(path, size, { isDatafile: true, nBlocks, nHeaders });
const dir = (path: string): FileEntry => file(path, 0, { mode: 0o040700 });
const ids = ['F', 'D1', 'D2'];

describe('chainFileSources', () => {
  it('takes each data file from every copy back to the first that holds all its blocks, newest first', () => {
    const full = [dir('base'), data('base/1/10', 10 * 8200, 10, 10), data('base/1/11', 3 * 8200, 3, 3), file('PG_VERSION', 3)];
    const d1 = [dir('base'), data('base/1/10', 2 * 8200, 12, 2), data('base/1/11', -1, 3, 0), file('PG_VERSION', 3)];
    const d2 = [dir('base'), data('base/1/10', -1, 12, 0), data('base/1/11', 8200, 3, 1), file('PG_VERSION', 3)];
    expect(chainFileSources([full, d1, d2], ids)).toEqual([
      null,
      [{ member: 1, index: 1 }, { member: 0, index: 1 }],
      [{ member: 2, index: 2 }, { member: 0, index: 2 }],
      null,
    ]);
  });

  it('stops at a backup that lacks the file (it was made anew since) and at a copy holding every block', () => {
    const full = [data('base/1/10', 10 * 8200, 10, 10)];
    const d1 = [file('other', 1)];
    const d2 = [data('base/1/10', 2 * 8200, 2, 2)];
    expect(chainFileSources([full, d1, d2], ids)).toEqual([null]);
    const d2partial = [data('base/1/10', 8200, 4, 1)];
    const d1whole = [data('base/1/10', 4 * 8200, 4, 4)];
    expect(chainFileSources([full, d1whole, d2partial], ids)).toEqual([[{ member: 2, index: 0 }, { member: 1, index: 0 }]]);
  });

  it('takes a non-data file marked unchanged (-1) from the newest copy, and refuses when there is none', () => {
    const full = [file('postgresql.conf', 100)];
    const d1 = [file('postgresql.conf', -1)];
    expect(chainFileSources([full, d1, d1], ids)).toEqual([[{ member: 0, index: 0 }]]);
    expect(() => chainFileSources([[], d1, d1], ids)).toThrow('no backup of the chain of D2 holds a copy of "postgresql.conf"');
    expect(() => chainFileSources([[], [], [data('base/1/10', -1, 3, 0)]], ids)).toThrow('no backup of the chain of D2 holds a page of "base/1/10" (3 blocks)');
  });

  it('needs no sources for a FULL backup alone, empty relations, and directories', () => {
    expect(chainFileSources([[dir('x'), data('base/1/10', 8200, 1, 1)]], ['F'])).toEqual([null, null]);
    expect(chainFileSources([[], [data('base/1/10', 0, 0, 0)]], ['F', 'D1'])).toEqual([null]);
  });
});
