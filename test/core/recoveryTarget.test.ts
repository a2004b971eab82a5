/**
 * The recovery-target replay against PostgreSQL's rules (xlogrecovery.c), on hand-made record
 * sequences shaped like a backup's WAL: checkpoint, restore point, commits, BACKUP_END, SWITCH.
 * The decoding of real commit/abort/prepared/restore-point records is checked against pg_waldump
 * in recoveryTargetWal.test.ts.
 */
import { RecoveryTargetReplay, stopInfo, timestampTzToUnixSeconds, unixSecondsToTimestampTz, type RecoveryTarget, type TargetOutcome } from '../../core/recoveryTarget';
import { toRecoveryTarget } from '../../core/recoveryTargetReport';

const T0 = unixSecondsToTimestampTz(1_700_000_000);

function main(bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}
function ts(t: bigint): number[] {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(t);
  return [...b];
}
const commit = (lsn: number, xid: number, t: bigint) => ({ lsn: BigInt(lsn), end: BigInt(lsn + 40), rmid: 1, info: 0x00, xid, mainData: main(ts(t)) });
const abort = (lsn: number, xid: number, t: bigint) => ({ lsn: BigInt(lsn), end: BigInt(lsn + 40), rmid: 1, info: 0x20, xid, mainData: main(ts(t)) });
const other = (lsn: number, len = 40) => ({ lsn: BigInt(lsn), end: BigInt(lsn + len), rmid: 10, info: 0, xid: 0, mainData: main([]) });
const restorePoint = (lsn: number, name: string, t: bigint) => {
  const n = Buffer.alloc(64);
  n.write(name);
  return { lsn: BigInt(lsn), end: BigInt(lsn + 98), rmid: 0, info: 0x70, xid: 0, mainData: main([...ts(t), ...n]) };
};

/**
 * start 0x1000: checkpoint stuff; 0x1100 commit 700 (T0); 0x1200 restore point "during";
 * 0x1300 BACKUP_END, consistent at 0x1328 (its end); 0x1328 commit 701 (T0+2s); 0x1400 restore
 * point "after"; 0x1500 abort 702 (T0+5s); 0x1600 switch.
 */
const WAL = [
  other(0x1000),
  commit(0x1100, 700, T0),
  restorePoint(0x1200, 'during', T0 + 1_000_000n),
  other(0x1300, 0x22),
  commit(0x1328, 701, T0 + 2_000_000n),
  restorePoint(0x1400, 'after', T0 + 3_000_000n),
  abort(0x1500, 702, T0 + 5_000_000n),
  other(0x1600, 24),
];
const CONSISTENT = 0x1328n;

function run(target: RecoveryTarget, wal = WAL): TargetOutcome {
  const r = new RecoveryTargetReplay(target, CONSISTENT);
  for (const rec of wal) {
    const o = r.push(rec);
    if (o) return o;
  }
  return r.end();
}

test('LSN: inclusive stops after the first record at or past it; exclusive before it', () => {
  expect(run({ kind: 'lsn', lsn: 0x1300n, inclusive: true })).toMatchObject({ reached: true, how: 'after', stopLsn: 0x1300n });
  // 0x12F0 is inside no record: the first at or past it is BACKUP_END, whose end is the consistency point.
  expect(run({ kind: 'lsn', lsn: 0x12f0n, inclusive: true })).toMatchObject({ reached: true, stopLsn: 0x1300n });
  expect(run({ kind: 'lsn', lsn: 0x1200n, inclusive: true })).toMatchObject({ reached: false, why: 'before-consistency', stopLsn: 0x1200n });
  expect(run({ kind: 'lsn', lsn: 0x1300n, inclusive: false })).toMatchObject({ reached: false, why: 'before-consistency' });
  expect(run({ kind: 'lsn', lsn: 0x1328n, inclusive: false })).toMatchObject({ reached: true, how: 'before', stopLsn: 0x1328n, point: { lsn: 0x1300n, xid: 700 } });
  expect(run({ kind: 'lsn', lsn: 0x1600n, inclusive: true })).toMatchObject({ reached: true, point: { lsn: 0x1600n } });
  const past = run({ kind: 'lsn', lsn: 0x1601n, inclusive: true });
  expect(past).toMatchObject({ reached: false, why: 'end-of-wal', walEnd: 0x1618n, point: { lsn: 0x1600n, xid: 702, time: T0 + 5_000_000n } });
});

test('xid: the COMMIT or ABORT of that transaction, after consistency', () => {
  expect(run({ kind: 'xid', xid: 701, inclusive: true })).toMatchObject({ reached: true, how: 'after', point: { xid: 701, time: T0 + 2_000_000n } });
  // Exclusive stops before 701's commit: the last record replayed is BACKUP_END, consistent.
  expect(run({ kind: 'xid', xid: 701, inclusive: false })).toMatchObject({ reached: true, how: 'before', point: { lsn: 0x1300n, xid: 700 } });
  expect(run({ kind: 'xid', xid: 702, inclusive: true })).toMatchObject({ reached: true, point: { xid: 702 } });
  expect(run({ kind: 'xid', xid: 700, inclusive: true })).toMatchObject({ reached: false, why: 'before-consistency' });
  expect(run({ kind: 'xid', xid: 699, inclusive: true })).toMatchObject({ reached: false, why: 'end-of-wal' });
  // recovery_target_xid is read as 64 bits and compared in its low 32.
  expect(toRecoveryTarget({ kind: 'xid', value: String((5n << 32n) + 701n), inclusive: true })).toEqual({ kind: 'xid', xid: 701, inclusive: true });
});

test('time: stops before the first transaction end later than the target (inclusive) or not earlier', () => {
  // T0+1s: the first end later is 701's commit (T0+2s), after consistency.
  expect(run({ kind: 'time', time: T0 + 1_000_000n, inclusive: true })).toMatchObject({ reached: true, how: 'before', stopLsn: 0x1328n });
  expect(run({ kind: 'time', time: T0 + 2_000_000n, inclusive: true })).toMatchObject({ reached: true, stopLsn: 0x1500n, point: { xid: 701 } });
  expect(run({ kind: 'time', time: T0 + 2_000_000n, inclusive: false })).toMatchObject({ reached: true, stopLsn: 0x1328n });
  // Earlier than 700's commit: recovery would stop before the backup is consistent.
  expect(run({ kind: 'time', time: T0 - 1n, inclusive: true })).toMatchObject({ reached: false, why: 'before-consistency', stopLsn: 0x1100n });
  // No transaction ends after T0+5s: recovery runs out of WAL.
  expect(run({ kind: 'time', time: T0 + 5_000_000n, inclusive: true })).toMatchObject({ reached: false, why: 'end-of-wal' });
  expect(timestampTzToUnixSeconds(unixSecondsToTimestampTz(1_700_000_123))).toBe(1_700_000_123);
  expect(timestampTzToUnixSeconds(T0 + 999_999n)).toBe(1_700_000_000);
});

test('name: after the first restore point of that name', () => {
  expect(run({ kind: 'name', name: 'after' })).toMatchObject({ reached: true, how: 'after', stopLsn: 0x1400n, point: { time: T0 + 3_000_000n, xid: 701 } });
  expect(run({ kind: 'name', name: 'during' })).toMatchObject({ reached: false, why: 'before-consistency', stopLsn: 0x1200n });
  expect(run({ kind: 'name', name: 'afte' })).toMatchObject({ reached: false, why: 'end-of-wal' });
  // The first of two equal names decides.
  expect(run({ kind: 'name', name: 'x' }, [...WAL.slice(0, 2), restorePoint(0x1200, 'x', T0), ...WAL.slice(3, 5), restorePoint(0x1400, 'x', T0)])).toMatchObject({ why: 'before-consistency' });
});

test('WAL that ends before the consistency point reaches nothing', () => {
  expect(run({ kind: 'lsn', lsn: 0x9999n, inclusive: true }, WAL.slice(0, 3))).toEqual({ reached: false, why: 'end-of-wal', walEnd: 0x1262n, point: null });
});

test('stopInfo: prepared transaction ends carry their xid after the optional parts', () => {
  const d = Buffer.alloc(8 + 4 + 8 + 4 + 8 + 4 + 12 + 4);
  let p = 0;
  d.writeBigInt64LE(T0, p); p += 8;
  d.writeUInt32LE(0x1 | 0x2 | 0x4 | 0x10, p); p += 4; // dbinfo, subxacts, relfilenodes, twophase
  p += 8; // dbinfo
  d.writeInt32LE(2, p); p += 4 + 8; // 2 subxacts
  d.writeInt32LE(1, p); p += 4 + 12; // 1 relfilenode
  d.writeUInt32LE(4242, p);
  expect(stopInfo({ rmid: 1, info: 0x30 | 0x80, xid: 0, mainData: d })).toEqual({ kind: 'xact', commit: true, xid: 4242, time: T0 });
  expect(stopInfo({ rmid: 1, info: 0x10, xid: 5, mainData: d })).toBeNull(); // PREPARE is no end
  expect(stopInfo({ rmid: 10, info: 0, xid: 5, mainData: d })).toBeNull();
});
