import type { FileEntry } from '../../core/backupContent';
import type { BackupControl } from '../../core/backupControl';
import type { BackupId } from '../../core/backupId';
import type { ChainNode } from '../../core/chain';
import type { Lsn } from '../../core/lsn';
import { contentSums, finishedControl, mergedControl, planMergeActions, resolveMergeTarget } from '../../core/mergePlan';
import type { BackupStatus } from '../../core/types';

const n = (id: string, mode: ChainNode['mode'], status: BackupStatus, parentId?: string, mergeDestId?: string): ChainNode => ({
  id, mode, status, timeline: 1, startLsn: '0/1' as Lsn, ...(parentId ? { parentId } : {}), ...(mergeDestId ? { mergeDestId } : {}),
});

describe('resolveMergeTarget (do_merge)', () => {
  const chain = [n('D2', 'DELTA', 'OK', 'D1'), n('D1', 'DELTA', 'OK', 'F'), n('F', 'FULL', 'OK')];

  it('merges the chain of an incremental backup into its FULL backup', () => {
    expect(resolveMergeTarget(chain, 'D2')).toEqual({ ok: true, fullId: 'F', destId: 'D2', incrementals: ['D1', 'D2'], state: 'fresh', warnings: [] });
    expect(resolveMergeTarget(chain, 'D1')).toMatchObject({ ok: true, fullId: 'F', destId: 'D1', incrementals: ['D1'] });
  });

  it('takes a FULL backup\'s only child, and refuses a FULL backup with several or none', () => {
    expect(resolveMergeTarget(chain, 'F')).toMatchObject({ ok: true, destId: 'D1', incrementals: ['D1'] });
    expect(resolveMergeTarget([n('D1b', 'DELTA', 'OK', 'F'), ...chain], 'F')).toMatchObject({ ok: false, error: expect.stringMatching(/^Merge target is full backup and has multiple direct children/) });
    expect(resolveMergeTarget([n('F', 'FULL', 'OK')], 'F')).toEqual({ ok: false, error: 'Failed to find merge candidate, backup F has no valid children' });
  });

  it('refuses unknown backups and bad statuses', () => {
    expect(resolveMergeTarget(chain, 'ZZ')).toMatchObject({ ok: false, error: expect.stringMatching(/^Target backup ZZ was not found/) });
    expect(resolveMergeTarget([chain[0], { ...chain[1], status: 'CORRUPT' }, chain[2]], 'D2')).toEqual({ ok: false, error: 'Backup D1 has status: CORRUPT' });
    expect(resolveMergeTarget([chain[0], chain[1], { ...chain[2], status: 'ERROR' }], 'D2')).toEqual({ ok: false, error: 'Backup F has status: ERROR' });
  });

  it('resumes an interrupted merge: MERGING is a retry, MERGED only deletes and renames', () => {
    const merging = [n('D2', 'DELTA', 'MERGING', 'D1'), n('D1', 'DELTA', 'MERGING', 'F'), n('F', 'FULL', 'MERGING', undefined, 'D2')];
    expect(resolveMergeTarget(merging, 'D2')).toMatchObject({ ok: true, state: 'retry', incrementals: ['D1', 'D2'], warnings: ['WARNING: Rerun unfinished merge for backup D2'] });
    expect(resolveMergeTarget(merging, 'F')).toMatchObject({ ok: true, destId: 'D2', state: 'retry' });
    // D1 already deleted, FULL merged: finish.
    const half = [n('D2', 'DELTA', 'MERGING', 'D1'), n('F', 'FULL', 'MERGED', undefined, 'D2')];
    expect(resolveMergeTarget(half, 'D2')).toMatchObject({ ok: true, fullId: 'F', destId: 'D2', incrementals: ['D2'], state: 'merged' });
    // Every incremental gone: the FULL backup remembers its destination.
    expect(resolveMergeTarget([n('F', 'FULL', 'MERGED', undefined, 'D2')], 'D2')).toMatchObject({ ok: true, fullId: 'F', destId: 'D2', incrementals: [], state: 'merged' });
    // D1 gone while the FULL backup is still MERGING: the data is lost.
    expect(resolveMergeTarget([n('D2', 'DELTA', 'MERGING', 'D1'), n('F', 'FULL', 'MERGING', undefined, 'D2')], 'D2')).toMatchObject({ ok: false, error: expect.stringMatching(/^Incremental chain is broken, merge is impossible to finish/) });
    // Another destination than the interrupted one.
    expect(resolveMergeTarget([n('D2', 'DELTA', 'OK', 'D1'), n('D1', 'DELTA', 'MERGING', 'F'), n('F', 'FULL', 'MERGING', undefined, 'D1')], 'D2')).toMatchObject({ ok: false, error: expect.stringMatching(/^Full backup F has unfinished merge with backup D1/) });
  });
});

const file = (path: string, size: number, extra: Partial<FileEntry> = {}): FileEntry => ({
  path, size, mode: 0o100600, isDatafile: false, isCfs: false, crc: 0, compressAlg: 'none', externalDirNum: 0, dbOid: 0, ...extra,
});
const data = (path: string, size: number, nBlocks: number, nHeaders: number): FileEntry => file(path, size, { isDatafile: true, nBlocks, nHeaders });

describe('planMergeActions', () => {
  it('keeps what the FULL backup holds whole, links whole copies of incrementals, rebuilds the rest', () => {
    const full = [file('base', 0, { mode: 0o040700 }), data('base/1/10', 5 * 8200, 5, 5), data('base/1/11', 5 * 8200, 5, 5), data('base/1/12', 5 * 8200, 5, 5), file('PG_VERSION', 3), file('conf', 10)];
    const d1 = [full[0], data('base/1/10', -1, 5, 0), data('base/1/11', 8200, 5, 1), data('base/1/13', 2 * 8200, 2, 2), file('PG_VERSION', 3), file('conf', 0), data('base/1/12', 8200, 4, 1)];
    expect(planMergeActions([full, d1], ['F', 'D1'])).toEqual([
      { kind: 'dir' },
      { kind: 'keep', index: 1 },
      { kind: 'build', sources: [{ member: 1, index: 2 }, { member: 0, index: 2 }] },
      { kind: 'link', member: 1, index: 3 },
      { kind: 'link', member: 1, index: 4 },
      { kind: 'empty' },
      // Shrunk since: the FULL copy is longer than the file, so it is rebuilt at the new length.
      { kind: 'build', sources: [{ member: 1, index: 6 }, { member: 0, index: 3 }] },
    ]);
  });

  it('keeps a FULL backup\'s copy of an unchanged non-data file (size -1) and an empty relation is empty', () => {
    const full = [file('conf', 10), data('base/1/10', 0, 0, 0)];
    const d1 = [file('conf', -1), data('base/1/10', 0, 0, 0)];
    expect(planMergeActions([full, d1], ['F', 'D1'])).toEqual([{ kind: 'keep', index: 0 }, { kind: 'empty' }]);
  });
});

describe('merged backup.control', () => {
  const full = {
    backupMode: 'FULL', stream: true, compressAlg: 'none', compressLevel: 1, fromReplica: false, blockSize: 8192, xlogBlockSize: 8192,
    checksumVersion: 1, programVersion: '2.5.16', serverVersion: '15', timelineId: 1, startLsn: '0/2000028' as Lsn, stopLsn: '0/2000100' as Lsn,
    startTime: 1700000000, endTime: 1700000010, recoveryXid: 700, recoveryTime: 1700000009, dataBytes: 100, walBytes: 16777216, status: 'OK',
    note: 'old', expireTime: 1800000000,
  } as BackupControl;
  const dest = {
    ...full, backupMode: 'DELTA', startTime: 1700000500, startLsn: '0/5000028' as Lsn, stopLsn: '0/5000200' as Lsn, recoveryXid: 900, recoveryTime: 1700000509,
    compressAlg: 'zlib', compressLevel: 3, parentBackupId: 'TESTF' as BackupId, note: undefined, expireTime: undefined, pgdataBytes: 12345,
  } as BackupControl;

  it('takes the destination\'s LSNs, times, compression, pinning and note, and is MERGED until renamed', () => {
    const m = mergedControl(full, dest, { dataBytes: 7, walBytes: 9, uncompressedBytes: 8, contentCrc: 42, mergeTime: 1700000600, endTime: 1700000700, destId: 'DEST' });
    expect(m).toMatchObject({
      backupMode: 'FULL', startTime: 1700000000, startLsn: '0/5000028', stopLsn: '0/5000200', recoveryXid: 900, recoveryTime: 1700000509,
      compressAlg: 'zlib', compressLevel: 3, dataBytes: 7, walBytes: 9, uncompressedBytes: 8, contentCrc: 42, mergeTime: 1700000600,
      endTime: 1700000700, status: 'MERGED', mergeDestId: 'DEST', pgdataBytes: 12345,
    });
    expect('parentBackupId' in m || 'note' in m || 'expireTime' in m).toBe(false);
    const done = finishedControl(m, 1700000500);
    expect(done).toMatchObject({ startTime: 1700000500, status: 'OK' });
    expect('mergeDestId' in done).toBe(false);
  });

  it('sums like backup_content.control: directories 4096, WAL apart, -1 nothing', () => {
    expect(contentSums([file('d', 0, { mode: 0o040700 }), file('pg_wal/000000010000000000000001', 16), data('base/1/1', 8200, 1, 1), data('base/1/2', -1, 3, 0)])).toEqual({
      dataBytes: 4096 + 8200, walBytes: 16, uncompressedBytes: 4096 + 8200,
    });
  });
});
