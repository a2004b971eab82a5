/**
 * The recovery target as it travels through a workflow (plain JSON: no bigint in Temporal payloads),
 * the verdict for one backup, and the messages validate prints, in pg_probackup's wording where it
 * has one (validate_wal in src/parsexlog.c, do_restore_or_validate in src/restore.c).
 */
import { lsnFromBigInt, lsnToBigInt, parseLsn } from './lsn';
import { timestampTzToUnixSeconds, unixSecondsToTimestampTz, type RecoveryTarget, type TargetOutcome } from './recoveryTarget';

export interface TargetSpec {
  kind: 'lsn' | 'xid' | 'time' | 'name';
  /** LSN text, decimal xid, Unix seconds, or the restore point name. */
  value: string;
  /** PostgreSQL's default is inclusive; names are always inclusive. */
  inclusive: boolean;
  /** --recovery-target-timeline when it names a timeline ID. */
  timeline?: number;
}

export function toRecoveryTarget(s: TargetSpec): RecoveryTarget {
  switch (s.kind) {
    case 'lsn':
      return { kind: 'lsn', lsn: lsnToBigInt(parseLsn(s.value)), inclusive: s.inclusive };
    case 'xid':
      // PostgreSQL reads recovery_target_xid as 64 bits and compares its low 32 (check_recovery_target_xid).
      return { kind: 'xid', xid: Number(BigInt(s.value) & 0xffffffffn), inclusive: s.inclusive };
    case 'time':
      return { kind: 'time', time: unixSecondsToTimestampTz(Number(s.value)), inclusive: s.inclusive };
    case 'name':
      return { kind: 'name', name: s.value };
  }
}

export interface PointJson {
  lsn: string;
  /** Unix seconds, or null when no transaction ended in the replayed WAL. */
  time: number | null;
  xid: number | null;
}

/** What one backup can do for the target (JSON). */
export interface TargetVerdict {
  backupId: string;
  reached: boolean;
  /** Why not: stops before consistency, WAL ends first, or the backup is on another timeline. */
  why?: 'before-consistency' | 'end-of-wal' | 'timeline';
  how?: 'before' | 'after';
  /** LSN of the record recovery stops before/after. */
  stopRecordLsn?: string;
  /** Where recovery stops (reached) or the furthest it can go (not reached; null: nowhere). */
  point: PointJson | null;
  /** The backup's consistency point (STOP LSN) and the end of the WAL it holds. */
  consistentAt: string;
  walEnd: string;
  /** WAL segments read from the instance's WAL archive (wal/<instance>) besides the backup's own. */
  archivedSegments?: number;
  timeline: number;
  /** From backup.control: pg_probackup's defaults for time and xid when WAL shows none. */
  recoveryTime: number | null;
  recoveryXid: number;
}

/** `base.walEnd`: the end of the last record the scan read (the WAL's end when not reached). */
export function verdictFromOutcome(o: TargetOutcome, base: Omit<TargetVerdict, 'reached' | 'point' | 'walEnd'> & { walEnd: bigint }): TargetVerdict {
  const point = (p: { lsn: bigint; time: bigint | null; xid: number | null } | null): PointJson | null =>
    p && { lsn: lsnFromBigInt(p.lsn), time: p.time === null ? null : timestampTzToUnixSeconds(p.time), xid: p.xid };
  const common = { ...base, walEnd: lsnFromBigInt(base.walEnd) };
  if (o.reached) return { ...common, reached: true, how: o.how, stopRecordLsn: lsnFromBigInt(o.stopLsn), point: point(o.point) };
  if (o.why === 'before-consistency') return { ...common, reached: false, why: o.why, how: o.how, stopRecordLsn: lsnFromBigInt(o.stopLsn), point: point(o.point) };
  return { ...common, reached: false, why: 'end-of-wal', point: point(o.point) };
}

/** `--recovery-target-lsn=0/3000060` (with `--recovery-target-inclusive=false` when so). */
export function describeTarget(s: TargetSpec, fmtTime: (unix: number) => string): string {
  const value = s.kind === 'time' ? fmtTime(Number(s.value)) : s.value;
  const opt = `--recovery-target-${s.kind}=${s.kind === 'name' || s.kind === 'time' ? `'${value}'` : value}`;
  return s.kind !== 'name' && !s.inclusive ? `${opt} --recovery-target-inclusive=false` : opt;
}

/** pg_probackup's "on time %s, xid %u and LSN %X/%X", defaulting to the backup's recovery time/xid. */
export function pointText(p: PointJson, v: TargetVerdict, fmtTime: (unix: number) => string): string {
  const time = p.time ?? v.recoveryTime;
  return `time ${time === null ? 'unknown' : fmtTime(time)}, xid ${p.xid ?? v.recoveryXid} and LSN ${p.lsn}`;
}

/** Why a backup cannot reach the target, and what PostgreSQL would say. */
export function reasonText(s: TargetSpec, v: TargetVerdict, fmtTime: (unix: number) => string): string {
  const target = describeTarget(s, fmtTime);
  if (v.why === 'timeline') {
    return `backup ${v.backupId} is on timeline ${v.timeline}; reaching timeline ${s.timeline} needs its history file and the WAL after the switch, which validate does not follow across timelines`;
  }
  if (v.why === 'before-consistency') {
    return (
      `${target} stops recovery ${v.how} the record at ${v.stopRecordLsn}, before backup ${v.backupId} is consistent at its STOP LSN ${v.consistentAt}; ` +
      `PostgreSQL would fail with "requested recovery stop point is before consistent recovery point" (a backup cannot be recovered to a point before its end)`
    );
  }
  const what = {
    lsn: 'no record at or past that LSN',
    xid: 'no COMMIT or ABORT of that transaction',
    time: `no transaction that ends ${s.inclusive ? 'later than' : 'at or after'} that time`,
    name: 'no restore point of that name',
  }[s.kind];
  const where = v.point ? `after the backup's STOP LSN ${v.consistentAt}` : `(it even ends before the backup's STOP LSN ${v.consistentAt})`;
  if (v.archivedSegments) {
    return (
      `the WAL of backup ${v.backupId} and the WAL archive (${v.archivedSegments} segments), which end at ${v.walEnd}, have ${what} ${where}; ` +
      `PostgreSQL would fail with "recovery ended before configured recovery target was reached"`
    );
  }
  return (
    `the WAL in backup ${v.backupId}, which ends at ${v.walEnd}, has ${what} ${where}, and the WAL archive has none of what follows ` +
    `(a STREAM backup holds WAL only up to about its STOP LSN; archive-push fills the archive); PostgreSQL would fail with "recovery ended before configured recovery target was reached"`
  );
}

/** pg_probackup's "Not enough WAL records to ..." error text (validate_wal). */
export function notEnoughWalText(s: TargetSpec, fmtTime: (unix: number) => string): string {
  switch (s.kind) {
    case 'time':
      return `Not enough WAL records to time ${fmtTime(Number(s.value))}`;
    case 'xid':
      return `Not enough WAL records to xid ${s.value}`;
    case 'lsn':
      return `Not enough WAL records to lsn ${s.value}`;
    case 'name':
      return `Not enough WAL records to restore point '${s.value}'`;
  }
}
