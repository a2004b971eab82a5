import { dbOidOf, dropUnloggedForks, parseRelationPath, skipsDirContent, skipsFile } from '../../core/fileClassify';
import { batchLimitsFor, DEFAULT_BATCH_LIMITS, MAX_BATCHES, planBatches } from '../../core/batchPlan';

const opts = { backupPgLog: false, backupPgReplslot: false };

test('relation file names: forks, segments, databases, tablespaces', () => {
  expect(parseRelationPath('base/5/16384')).toEqual({ dbOid: 5, relOid: 16384, fork: 'main', segno: 0 });
  expect(parseRelationPath('base/5/16384.3')).toEqual({ dbOid: 5, relOid: 16384, fork: 'main', segno: 3 });
  expect(parseRelationPath('base/5/16384_fsm')?.fork).toBe('fsm');
  expect(parseRelationPath('base/5/16384_init')?.fork).toBe('init');
  expect(parseRelationPath('global/1262')).toEqual({ dbOid: 0, relOid: 1262, fork: 'main', segno: 0 });
  expect(parseRelationPath('pg_tblspc/16400/PG_15_202209061/16401/16402.1')).toEqual({ dbOid: 16401, relOid: 16402, fork: 'main', segno: 1 });
  for (const p of ['base/5/pg_filenode.map', 'base/5/PG_VERSION', 'base/5/016384', 'base/5/16384.01', 'postgresql.conf', 'pg_xact/0000']) {
    expect(parseRelationPath(p)).toBeNull();
  }
  expect(dbOidOf('pg_tblspc/16400/PG_15_202209061/16401')).toBe(16401);
});

test('exclusions of spec §7.3', () => {
  for (const d of ['pg_wal', 'pg_stat_tmp', 'pg_replslot', 'pg_notify', 'base/pgsql_tmp', 'log', 'pg_tblspc/1/PG_15_x/pgsql_tmp']) expect(skipsDirContent(d, opts)).toBe(true);
  for (const d of ['base', 'base/5', 'global', 'pg_xact', 'pg_tblspc/1/PG_15_x']) expect(skipsDirContent(d, opts)).toBe(false);
  expect(skipsDirContent('log', { ...opts, backupPgLog: true })).toBe(false);
  expect(skipsDirContent('pg_replslot', { ...opts, backupPgReplslot: true })).toBe(false);
  for (const f of ['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'recovery.signal', 'base/5/pg_internal.init', 'base/5/t3_16384']) expect(skipsFile(f)).toBe(true);
  for (const f of ['postgresql.conf', 'base/5/16384', 'global/pg_filenode.map']) expect(skipsFile(f)).toBe(false);
});

test('unlogged relations keep only the init fork (and vm)', () => {
  const files = ['base/5/100', 'base/5/100.1', 'base/5/100_fsm', 'base/5/100_init', 'base/5/100_vm', 'base/5/200', 'base/6/100'].map((p) => ({ path: p, externalDirNum: 0 }));
  expect(dropUnloggedForks(files).map((f) => f.path)).toEqual(['base/5/100_init', 'base/5/100_vm', 'base/5/200', 'base/6/100']);
});

test('batches: bounded by bytes and count, every file exactly once, the smallest files and the largest in turn', () => {
  const sizes = [100, 5, 70, 30, 0, 0, 200];
  const b = planBatches(sizes, { maxBytes: 100, maxFiles: 3 });
  expect(b.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  expect(b).toEqual([[1, 4, 5], [6], [2, 3], [0]]);
  for (const batch of b) {
    expect(batch.length).toBeLessThanOrEqual(3);
    if (batch.length > 1) expect(batch.reduce((s, i) => s + sizes[i], 0)).toBeLessThanOrEqual(100);
  }
});

test('batches: a run has at most MAX_BATCHES whatever the cluster size (history stays bounded)', () => {
  const GB = 1 << 30;
  const clusters: Record<string, number[]> = {
    // 10 TB of full 1 GB segments: with 64 MiB batches, one batch per segment (10,240).
    '10 TB of segments': Array.from({ length: 10240 }, () => GB),
    // 2M small relation files.
    '2M small files': Array.from({ length: 2_000_000 }, (_, i) => 8192 * (1 + (i % 3))),
    // A mix: big segments, tails, small files.
    'mixed 3 TB': [...Array.from({ length: 3000 }, () => GB), ...Array.from({ length: 3000 }, (_, i) => (i * 7919) % GB), ...Array.from({ length: 300_000 }, () => 16384)],
  };
  for (const [name, sizes] of Object.entries(clusters)) {
    const b = planBatches(sizes);
    expect({ name, n: b.length, ok: b.length <= MAX_BATCHES }).toEqual({ name, n: b.length, ok: true });
    expect(b.reduce((n, x) => n + x.length, 0)).toBe(sizes.length);
  }
  // A cluster of a few GB keeps the default 64 MiB / 1000-file batches.
  expect(batchLimitsFor(Array.from({ length: 5000 }, () => 1 << 20))).toEqual(DEFAULT_BATCH_LIMITS);
});
