import type { Lsn } from '../../core/lsn';
import { planRetention, type RetentionNode } from '../../core/retention';
import type { BackupMode, BackupStatus } from '../../core/types';

const DAY = 86400;
const NOW = 1_800_000_000;

/** A backup `age` days old (recovery time), newest first when listed in order of age. */
function b(id: string, mode: BackupMode, age: number, opts: { status?: BackupStatus; parent?: string; pinnedDays?: number; noRecovery?: boolean } = {}): RetentionNode {
  const recoveryTime = opts.noRecovery ? 0 : NOW - age * DAY;
  return {
    id,
    mode,
    status: opts.status ?? 'OK',
    timeline: 1,
    startLsn: '0/2000028' as Lsn,
    ...(opts.parent ? { parentId: opts.parent } : {}),
    recoveryTime,
    startTime: NOW - age * DAY - 60,
    expireTime: opts.pinnedDays ? NOW + opts.pinnedDays * DAY : 0,
  };
}

const both = { mergeExpired: true, deleteExpired: true };
const texts = (p: ReturnType<typeof planRetention>) => p.lines.map((l) => `${l.level}: ${l.text}`);

it('redundancy keeps the newest valid FULL backups with their chains, and counts only valid ones', () => {
  const backups = [
    b('F4', 'FULL', 1, { status: 'CORRUPT' }),
    b('D3', 'DELTA', 2, { parent: 'F2' }),
    b('F2', 'FULL', 3),
    b('F1', 'FULL', 5),
    b('F0', 'FULL', 9),
  ];
  const plan = planRetention(backups, { redundancy: 1, windowDays: 0 }, NOW, both);
  // F4 is not valid: it does not count toward the redundancy and is not guarded by it.
  expect(plan.expired).toEqual(['F4', 'F1', 'F0']);
  expect(plan.purge).toEqual(['F4', 'F1', 'F0']);
  expect(plan.kept).toEqual([]);
  expect(texts(plan)).toContain('INFO: Backup F2, mode: FULL, status: OK. Redundancy: 1/1, Time Window: 3d/0d. Active');
  expect(texts(plan)).toContain('INFO: Backup F1, mode: FULL, status: OK. Redundancy: 2/1, Time Window: 5d/0d. Expired');
  expect(texts(plan)).toContain('INFO: Backup F4, mode: FULL, status: CORRUPT. Redundancy: 1/1, Time Window: 1d/0d. Expired');
});

it('a window expires backups older than it; with a redundancy too, a backup expires only when both say so', () => {
  const backups = [b('F3', 'FULL', 1), b('F2', 'FULL', 10), b('F1', 'FULL', 20)];
  expect(planRetention(backups, { redundancy: 0, windowDays: 7 }, NOW, both).purge).toEqual(['F2', 'F1']);
  // Redundancy 2 keeps F2 although it is outside the window.
  expect(planRetention(backups, { redundancy: 2, windowDays: 7 }, NOW, both).purge).toEqual(['F1']);
  // A backup without a recovery time (it failed) is judged by its start.
  const failed = [b('F3', 'FULL', 1), b('E2', 'FULL', 10, { status: 'ERROR', noRecovery: true })];
  const plan = planRetention(failed, { redundancy: 0, windowDays: 7 }, NOW, both);
  expect(plan.purge).toEqual(['E2']);
  expect(texts(plan)).toContain('INFO: Backup E2, mode: FULL, status: ERROR. Redundancy: 2/0, Time Window: 0d/7d. Expired');
});

it('a pinned backup outside the policy is retained, and its line shows its pinning window', () => {
  const backups = [b('F2', 'FULL', 1), b('F1', 'FULL', 30, { pinnedDays: 5 })];
  const plan = planRetention(backups, { redundancy: 1, windowDays: 0 }, NOW, both);
  expect(plan.expired).toEqual([]);
  expect(plan.purge).toEqual([]);
  expect(texts(plan).some((l) => /^LOG: Backup F1 is pinned until '.+', retain$/.test(l))).toBe(true);
  // Pinned 35 days after its recovery time.
  expect(texts(plan)).toContain('INFO: Backup F1, mode: FULL, status: OK. Redundancy: 2/1, Time Window: 30d/35d. Active');
  // A pin that has run out protects nothing.
  const lapsed = [b('F2', 'FULL', 1), { ...b('F1', 'FULL', 30), expireTime: NOW - DAY }];
  expect(planRetention(lapsed, { redundancy: 1, windowDays: 0 }, NOW, both).purge).toEqual(['F1']);
});

it('an incremental backup within the window keeps its expired chain, or absorbs it with --merge-expired', () => {
  const backups = [
    b('D4', 'DELTA', 1, { parent: 'D3' }),
    b('D3', 'DELTA', 3, { parent: 'D2' }),
    b('D2', 'DELTA', 10, { parent: 'F1' }),
    b('F1', 'FULL', 12),
    b('F0', 'FULL', 20),
  ];
  const policy = { redundancy: 0, windowDays: 7 };
  const deleteOnly = planRetention(backups, policy, NOW, { mergeExpired: false, deleteExpired: true });
  expect(deleteOnly.expired).toEqual(['D2', 'F1', 'F0']);
  expect(deleteOnly.kept).toEqual(['D3']);
  expect(deleteOnly.merges).toEqual([]);
  // D3 needs D2 and F1: only F0 can go.
  expect(deleteOnly.purge).toEqual(['F0']);
  expect(texts(deleteOnly)).toContain('LOG: Retain backup D2 because his descendant D3 is guarded by retention');
  expect(texts(deleteOnly)).toContain('LOG: Retain backup F1 because his descendant D3 is guarded by retention');

  const merged = planRetention(backups, policy, NOW, both);
  expect(merged.merges).toEqual([{ fullId: 'F1', destId: 'D3' }]);
  expect(merged.purge).toEqual(['F0']);
  expect(texts(merged)).toContain('INFO: Merge incremental chain between full backup F1 and backup D3');

  // Nothing but the evaluation without the flags.
  const dry = planRetention(backups, policy, NOW, { mergeExpired: false, deleteExpired: false });
  expect([dry.merges, dry.purge]).toEqual([[], []]);
});

it('merges only into a kept backup whose FULL backup expired', () => {
  // Redundancy 1 keeps F1's chain; D2 is outside the window but F1 is not expired.
  const backups = [b('D2', 'DELTA', 10, { parent: 'F1' }), b('F1', 'FULL', 12), b('F0', 'FULL', 20)];
  const plan = planRetention(backups, { redundancy: 1, windowDays: 7 }, NOW, both);
  expect(plan.expired).toEqual(['F0']);
  expect(plan.kept).toEqual([]);
  expect(plan.merges).toEqual([]);
  expect(plan.purge).toEqual(['F0']);
  // An orphan (its parent is gone) is never kept and never merged.
  const orphan = [b('D2', 'DELTA', 1, { parent: 'GONE', status: 'ORPHAN' }), b('F0', 'FULL', 20)];
  const o = planRetention(orphan, { redundancy: 0, windowDays: 7 }, NOW, both);
  expect([o.kept, o.merges, o.purge]).toEqual([[], [], ['F0']]);
});
