/**
 * Can PostgreSQL 15 recover a backup to a recovery target with the WAL the backup holds? A replay
 * of PostgreSQL's own decision, record by record, over the backup's WAL (xlogrecovery.c:
 * recoveryStopsBefore / recoveryStopsAfter), so the answer is what the server would do:
 *
 * - lsn: stop before (exclusive) or after (inclusive) the first record at or past the target LSN;
 * - xid: stop before/after the COMMIT or ABORT record of that transaction (low 32 bits, as
 *   PostgreSQL reads recovery_target_xid);
 * - time: stop before the first COMMIT/ABORT whose time is later than the target (inclusive) or
 *   not earlier (exclusive) — so a time target needs a later transaction end in the WAL;
 * - name: stop after the first restore point of that name.
 *
 * The stop must come at or after the backup's consistency point (its STOP LSN: the end of the
 * backup-end record), else the server fails with "requested recovery stop point is before
 * consistent recovery point"; WAL that ends before the stop fails it with "recovery ended before
 * configured recovery target was reached" (PostgreSQL 13+). Both were checked against real
 * restores (see the validate e2e test).
 *
 * Pure: the caller feeds records (from core/walRecord) one at a time, and may stop reading once
 * `push` returns an outcome.
 */
import type { WalRecord } from './walRecord';

export type RecoveryTarget =
  | { kind: 'lsn'; lsn: bigint; inclusive: boolean }
  | { kind: 'xid'; xid: number; inclusive: boolean }
  /** `time`: microseconds since 2000-01-01 UTC, PostgreSQL's TimestampTz. */
  | { kind: 'time'; time: bigint; inclusive: boolean }
  | { kind: 'name'; name: string };

const RM_XLOG_ID = 0;
const RM_XACT_ID = 1;
const XLR_INFO_MASK = 0x0f;
const XLOG_RESTORE_POINT = 0x70;
const XLOG_XACT_OPMASK = 0x70;
const XLOG_XACT_HAS_INFO = 0x80;
const XLOG_XACT_COMMIT = 0x00;
const XLOG_XACT_ABORT = 0x20;
const XLOG_XACT_COMMIT_PREPARED = 0x30;
const XLOG_XACT_ABORT_PREPARED = 0x40;
const XACT_XINFO_HAS_DBINFO = 1 << 0;
const XACT_XINFO_HAS_SUBXACTS = 1 << 1;
const XACT_XINFO_HAS_RELFILENODES = 1 << 2;
const XACT_XINFO_HAS_INVALS = 1 << 3;
const XACT_XINFO_HAS_TWOPHASE = 1 << 4;
const XACT_XINFO_HAS_DROPPED_STATS = 1 << 8;
/** xl_xact_stats_item in PostgreSQL 15: int kind, Oid dboid, Oid objoid. */
const STATS_ITEM_SIZE = 12;
const SHARED_INVAL_MSG_SIZE = 16;
const REL_FILE_NODE_SIZE = 12;

/** Seconds from the Unix epoch to PostgreSQL's epoch (2000-01-01 UTC). */
const PG_EPOCH_UNIX = 946_684_800n;

export function unixSecondsToTimestampTz(unixSeconds: number): bigint {
  return (BigInt(Math.trunc(unixSeconds)) - PG_EPOCH_UNIX) * 1_000_000n;
}

/** Whole Unix seconds of a TimestampTz (truncated, as pg_probackup prints recovery times). */
export function timestampTzToUnixSeconds(ts: bigint): number {
  const us = ts + PG_EPOCH_UNIX * 1_000_000n;
  return Number((us - (((us % 1_000_000n) + 1_000_000n) % 1_000_000n)) / 1_000_000n);
}

/** What a record means to a recovery target: a transaction end, a restore point, or nothing. */
export type StopInfo =
  | { kind: 'xact'; commit: boolean; xid: number; time: bigint }
  | { kind: 'restore-point'; name: string; time: bigint }
  | null;

/** Decodes COMMIT/ABORT (incl. prepared) and RESTORE_POINT records (xact.h, xlog_internal.h). */
export function stopInfo(rec: Pick<WalRecord, 'rmid' | 'info' | 'xid' | 'mainData'>): StopInfo {
  const d = rec.mainData;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if (rec.rmid === RM_XLOG_ID && (rec.info & ~XLR_INFO_MASK) === XLOG_RESTORE_POINT) {
    // xl_restore_point { TimestampTz rp_time; char rp_name[MAXFNAMELEN]; }
    if (d.length < 8) throw new Error(`restore point record has ${d.length} bytes of data`);
    const raw = d.subarray(8);
    const nul = raw.indexOf(0);
    return { kind: 'restore-point', time: dv.getBigInt64(0, true), name: Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('utf8') };
  }
  if (rec.rmid !== RM_XACT_ID) return null;
  const op = rec.info & XLOG_XACT_OPMASK;
  if (op !== XLOG_XACT_COMMIT && op !== XLOG_XACT_ABORT && op !== XLOG_XACT_COMMIT_PREPARED && op !== XLOG_XACT_ABORT_PREPARED) return null;
  if (d.length < 8) throw new Error(`transaction end record has ${d.length} bytes of data`);
  const commit = op === XLOG_XACT_COMMIT || op === XLOG_XACT_COMMIT_PREPARED;
  const time = dv.getBigInt64(0, true);
  if (op === XLOG_XACT_COMMIT || op === XLOG_XACT_ABORT) return { kind: 'xact', commit, xid: rec.xid, time };
  // A prepared transaction's end is logged by another backend: its xid is the two-phase xid,
  // found after the optional parts that precede it (ParseCommitRecord / ParseAbortRecord).
  let p = 8;
  const xinfo = rec.info & XLOG_XACT_HAS_INFO ? dv.getUint32(p, true) : 0;
  if (rec.info & XLOG_XACT_HAS_INFO) p += 4;
  if (xinfo & XACT_XINFO_HAS_DBINFO) p += 8;
  if (xinfo & XACT_XINFO_HAS_SUBXACTS) p += 4 + 4 * dv.getInt32(p, true);
  if (xinfo & XACT_XINFO_HAS_RELFILENODES) p += 4 + REL_FILE_NODE_SIZE * dv.getInt32(p, true);
  if (xinfo & XACT_XINFO_HAS_DROPPED_STATS) p += 4 + STATS_ITEM_SIZE * dv.getInt32(p, true);
  if (commit && xinfo & XACT_XINFO_HAS_INVALS) p += 4 + SHARED_INVAL_MSG_SIZE * dv.getInt32(p, true);
  if (!(xinfo & XACT_XINFO_HAS_TWOPHASE)) throw new Error('prepared transaction end record without its transaction ID');
  return { kind: 'xact', commit, xid: dv.getUint32(p, true), time };
}

/** A point recovery can stop at, in pg_probackup's terms: last transaction end time and xid, LSN. */
export interface ReplayPoint {
  /** LSN of the last record replayed (PostgreSQL's "redo done at"). */
  lsn: bigint;
  /** Time of the last COMMIT/ABORT or restore point replayed; null before any. */
  time: bigint | null;
  /** xid of the last COMMIT/ABORT replayed; null before any. */
  xid: number | null;
}

export type TargetOutcome =
  | { reached: true; how: 'before' | 'after'; stopLsn: bigint; point: ReplayPoint }
  /** The target stops recovery before the backup is consistent. */
  | { reached: false; why: 'before-consistency'; how: 'before' | 'after'; stopLsn: bigint; point: ReplayPoint }
  /** The WAL ends first; `point` is the furthest recovery can go (null: WAL ends before consistency). */
  | { reached: false; why: 'end-of-wal'; walEnd: bigint; point: ReplayPoint | null };

const align8 = (v: bigint) => (v + 7n) & ~7n;

/** Feeds records in WAL order from the backup's start LSN; `consistentAt` is its STOP LSN. */
export class RecoveryTargetReplay {
  private last: ReplayPoint | null = null;
  /** End (aligned, PostgreSQL's EndRecPtr) of the last record replayed. */
  private replayedTo = 0n;
  private walEnd = 0n;
  private readonly xid: number;

  constructor(readonly target: RecoveryTarget, readonly consistentAt: bigint) {
    this.xid = target.kind === 'xid' ? target.xid >>> 0 : 0;
  }

  /** One record; an outcome when recovery would stop at it, else null (read on). */
  push(rec: Pick<WalRecord, 'lsn' | 'end' | 'rmid' | 'info' | 'xid' | 'mainData'>): TargetOutcome | null {
    const info = stopInfo(rec);
    if (this.stopsBefore(rec.lsn, info)) return this.stop('before', rec.lsn);
    this.replay(rec.lsn, rec.end, info);
    if (this.stopsAfter(rec.lsn, info)) return this.stop('after', rec.lsn);
    return null;
  }

  /** The WAL ended without a stop. */
  end(): TargetOutcome {
    const consistent = this.last !== null && this.replayedTo >= this.consistentAt;
    return { reached: false, why: 'end-of-wal', walEnd: this.walEnd, point: consistent ? { ...this.last! } : null };
  }

  private replay(lsn: bigint, end: bigint, info: StopInfo): void {
    const prev = this.last;
    this.last = {
      lsn,
      time: info ? info.time : (prev?.time ?? null),
      xid: info?.kind === 'xact' ? info.xid : (prev?.xid ?? null),
    };
    this.replayedTo = align8(end);
    this.walEnd = end;
  }

  private stop(how: 'before' | 'after', stopLsn: bigint): TargetOutcome {
    const point: ReplayPoint = this.last ? { ...this.last } : { lsn: stopLsn, time: null, xid: null };
    if (this.last === null || this.replayedTo < this.consistentAt) return { reached: false, why: 'before-consistency', how, stopLsn, point };
    return { reached: true, how, stopLsn, point };
  }

  private stopsBefore(lsn: bigint, info: StopInfo): boolean {
    const t = this.target;
    if (t.kind === 'lsn') return !t.inclusive && lsn >= t.lsn;
    if (info?.kind !== 'xact') return false;
    if (t.kind === 'xid') return !t.inclusive && info.xid === this.xid;
    if (t.kind === 'time') return t.inclusive ? info.time > t.time : info.time >= t.time;
    return false;
  }

  private stopsAfter(lsn: bigint, info: StopInfo): boolean {
    const t = this.target;
    if (t.kind === 'name') return info?.kind === 'restore-point' && info.name === t.name;
    if (t.kind === 'lsn') return t.inclusive && lsn >= t.lsn;
    if (t.kind === 'xid') return t.inclusive && info?.kind === 'xact' && info.xid === this.xid;
    return false;
  }
}
