/**
 * The backup session: pg_backup_start … pg_backup_stop on ONE connection (PostgreSQL 15 ends a
 * non-exclusive backup only on the session that began it), with WAL streamed from the start LSN
 * into the backup. It is one long activity that heartbeats; the workflow learns the start LSN from
 * session.json (waitForBackupSession) and ends the session by requestBackupStop once the copy is
 * done. If the worker dies, PostgreSQL aborts the backup with the connection and a temporary slot
 * disappears with it; the retry opens a new session.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { catalogPaths } from '../../core/catalogPaths';
import { formatDatabaseMap } from '../../core/databaseMap';
import { lsnToBigInt, parseLsn, walFileName, type Lsn } from '../../core/lsn';
import type { PgConnection } from '../../core/requests';
import { exists, readJson, writeFileAtomic } from '../atomicWrite';
import { activitySleep } from '../cancellableSleep';
import { closePg, connectionLost, connectPg, queryOne, serverEpoch, serverTermination } from './connection';
import { WalReceiver } from './walReceiver';

export interface BackupSessionInput {
  backupDir: string;
  backupId: string;
  connection: PgConnection;
  smoothCheckpoint: boolean;
  slot?: string;
  tempSlot: boolean;
  walSegmentSize: number;
  archiveTimeoutSec: number;
  rwTimeoutSec: number;
  noSync: boolean;
}

export interface SessionStart {
  startLsn: Lsn;
  timeline: number;
  /** Activity attempt that opened this session: a new attempt means a new start LSN. */
  attempt: number;
  /** Start LSN of the backup's first session: pages copied since are judged against it. */
  firstStartLsn: Lsn;
  /** Set when the backup holds every WAL record since this LSN (its first start), null when a lost session cut it. */
  walContinuousSince: Lsn | null;
  /** The server's start / crash-recovery marks when the first session opened (serverEpoch). */
  serverEpoch?: string;
}

export interface SessionResult extends SessionStart {
  stopLsn: Lsn;
  recoveryXid: number;
  recoveryTime: number;
  tablespaceMap: boolean;
  /** database/database_map was written (partial restore reads it). */
  databaseMap?: boolean;
  /** Segment file names written into database/pg_wal (plus a timeline history file if any). */
  walSegments: string[];
}

const SESSION_FILE = 'session.json';
const STOP_FILE = 'stop-request';

const sessionFile = (backupDir: string) => path.join(catalogPaths.stateDir(backupDir), SESSION_FILE);
/**
 * One per session attempt: a stale attempt (its worker was frozen past the heartbeat timeout, then
 * ran again beside the new attempt) may beat a little longer before it learns it was superseded,
 * and must not pass for the live one.
 */
const aliveFile = (backupDir: string, attempt: number) => path.join(catalogPaths.stateDir(backupDir), `session.alive.${attempt}`);
/** Written once pg_backup_stop returned and the WAL up to the stop LSN is in: a retry returns it. */
const resultFile = (backupDir: string) => path.join(catalogPaths.stateDir(backupDir), 'session.result.json');
const stopFile = (backupDir: string) => path.join(catalogPaths.stateDir(backupDir), STOP_FILE);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The session activity and the workflow's waits (currentBackupSession, awaitSessionEnd) meet
 * through files in the backup's state directory: each poll is a stat or a small read, and the
 * backup waits for them at its start and at its end.
 */
const POLL_MS = 25;

/** The backup's own replication slot (default): kept across lost sessions, dropped when the backup ends. */
export function backupSlotName(backupId: string): string {
  return `gs_probackup_${backupId.toLowerCase()}`;
}

/**
 * Where streaming resumes: right after the complete segments this backup already holds from the
 * first session's start segment on (none yet: the start segment of this session).
 */
async function continuationPoint(walDir: string, timeline: number, segSize: number, firstSegNo: bigint | null): Promise<bigint | null> {
  if (firstSegNo === null) return null;
  const have = new Set(await fs.readdir(walDir));
  let s = firstSegNo;
  while (have.has(walFileName(timeline, s, segSize))) s++;
  return s * BigInt(segSize);
}

export async function backupSession(input: BackupSessionInput): Promise<SessionResult> {
  const ctx = Context.current();
  const attempt = ctx.info.attempt;
  const sync = !input.noSync;
  // The session stopped but its worker died before reporting it: the backup is complete.
  const stopped = await readJson<SessionResult>(resultFile(input.backupDir));
  if (stopped) return stopped;
  const walDir = path.join(catalogPaths.databaseDir(input.backupDir), 'pg_wal');
  await fs.mkdir(walDir, { recursive: true, mode: 0o700 });
  await fs.mkdir(catalogPaths.stateDir(input.backupDir), { recursive: true, mode: 0o700 });
  const previous = await readSession(input.backupDir);

  const conn = await connectPg(input.connection);
  const epoch = await serverEpoch(conn).catch(async (e) => {
    await closePg(conn);
    throw e;
  });
  if (previous?.serverEpoch && previous.serverEpoch !== epoch) {
    await closePg(conn);
    throw ApplicationFailure.nonRetryable(
      `the database server restarted or recovered from a crash during the backup ` +
        `(postmaster start / crash recovery: ${previous.serverEpoch} before, ${epoch} now); ` +
        `PostgreSQL aborted the backup with it: run the backup again`,
      'ServerRestarted',
    );
  }
  let repl: Client | null = null;
  let receiver: WalReceiver | null = null;
  let aliveTimer: NodeJS.Timeout | null = null;
  const abort = new Promise<never>((_, reject) => {
    ctx.cancelled.catch((e) => reject(e));
  });
  abort.catch(() => undefined);
  const raceAbort = <T>(p: Promise<T>) => Promise.race([p, abort]);
  try {
    repl = await connectPg(input.connection, { replication: true, applicationName: 'gs_probackup_wal' });
    // WAL must not vanish while the backup runs. By default the backup has a slot of its own that
    // outlives a lost session, so a new session can stream on from where the old one stopped and
    // the WAL of the backup stays continuous from its first start LSN. --temp-slot: a temporary
    // slot, gone with the connection. -S: the user's slot.
    let slot: string;
    let slotKeepsWal = true;
    if (input.slot && !input.tempSlot) {
      slot = input.slot;
      const row = await queryOne<{ n: string }>(conn, `SELECT count(*)::text AS n FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical'`, [slot]);
      if (row.n === '0') {
        throw ApplicationFailure.nonRetryable(`replication slot "${slot}" does not exist: create it with pg_create_physical_replication_slot(), or use --temp-slot`, 'ConfigurationError');
      }
    } else if (input.tempSlot) {
      slot = input.slot ?? `${backupSlotName(input.backupId)}_${attempt}`;
      await repl.query(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY PHYSICAL RESERVE_WAL`);
      slotKeepsWal = false;
    } else {
      slot = backupSlotName(input.backupId);
      const row = await queryOne<{ n: string; pid: number | null }>(conn, `SELECT count(*)::text AS n, max(active_pid) AS pid FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
      if (row.n === '0') {
        await repl.query(`CREATE_REPLICATION_SLOT ${slot} PHYSICAL RESERVE_WAL`);
        slotKeepsWal = previous === null;
      } else if (row.pid !== null) {
        await releaseOwnSlot(conn, slot, row.pid);
      }
    }

    const label = `${new Date().toISOString()} with gs_probackup`;
    const start = await raceAbort(
      queryOne<{ lsn: string; tli: string }>(
        conn,
        `SELECT pg_backup_start($1, $2)::text AS lsn, (SELECT timeline_id FROM pg_control_checkpoint())::text AS tli`,
        [label, !input.smoothCheckpoint],
      ),
    );
    const startLsn = parseLsn(start.lsn);
    const timeline = Number(start.tli);
    if (timeline > 1) {
      const h = await repl.query(`TIMELINE_HISTORY ${timeline}`);
      const row = h.rows[0] as { filename: string; content: Buffer | string };
      await writeFileAtomic(path.join(walDir, row.filename), Buffer.from(row.content), { sync });
    }
    const seg = BigInt(input.walSegmentSize);
    const firstStart = previous?.firstStartLsn ?? startLsn;
    const sameTimeline = !previous || previous.timeline === timeline;
    const from = slotKeepsWal && sameTimeline ? await continuationPoint(walDir, timeline, input.walSegmentSize, previous ? lsnToBigInt(previous.firstStartLsn) / seg : null) : null;
    const streamFrom = from !== null && from <= lsnToBigInt(startLsn) ? from : lsnToBigInt(startLsn);
    receiver = new WalReceiver(repl, walDir, timeline, input.walSegmentSize, sync);
    const stallMs = Math.max(1, input.rwTimeoutSec) * 1000;
    receiver.start(streamFrom, slot, Math.max(500, Math.min(10_000, stallMs / 4)));
    const session: SessionStart = {
      startLsn,
      timeline,
      attempt,
      firstStartLsn: firstStart,
      // The WAL in the backup covers every change since the first start LSN only if it was never cut.
      walContinuousSince: previous ? (from !== null && (previous.walContinuousSince ?? null) !== null ? previous.walContinuousSince : null) : startLsn,
      serverEpoch: previous?.serverEpoch ?? epoch,
    };
    // A stale attempt that was frozen while starting must not take the place of a newer one.
    const newer = await readSession(input.backupDir);
    if (newer && newer.attempt > attempt) throw new Error(`backup session attempt ${attempt} was superseded by attempt ${newer.attempt}`);
    await writeFileAtomic(sessionFile(input.backupDir), JSON.stringify(session), { sync });
    const beat = () => {
      void writeFileAtomic(aliveFile(input.backupDir, attempt), JSON.stringify({ attempt, receivedLsn: receiver!.receivedLsn, at: Date.now() }), { sync: false }).catch(() => undefined);
    };
    beat();
    aliveTimer = setInterval(beat, 1000);

    // Hold the session until the workflow says the copy is done — for this session.
    for (;;) {
      ctx.heartbeat({ phase: 'copying', startLsn, receivedLsn: receiver.receivedLsn });
      const lost = connectionLost(conn) ?? receiver.error;
      if (lost) throw lost;
      if (receiver.silentForMs > stallMs) throw receiver.stalled(stallMs);
      if ((await readStopRequest(input.backupDir)) === attempt) break;
      // The stop request is the end of the copy: answer it at once (the backup waits for it).
      await raceAbort(sleep(POLL_MS));
    }

    const isPrimary = (await queryOne<{ r: boolean }>(conn, 'SELECT pg_is_in_recovery() AS r')).r === false;
    if (isPrimary) {
      await conn.query(`SELECT pg_create_restore_point($1)`, [`pg_probackup, backup_id ${input.backupId}`]);
    }
    const stop = await raceAbort(
      queryOne<{ xid: string; ts: string; lsn: string; labelfile: string; spcmapfile: string | null }>(
        conn,
        `SELECT txid_snapshot_xmax(txid_current_snapshot())::text AS xid,
                extract(epoch FROM current_timestamp(0))::bigint::text AS ts,
                lsn::text AS lsn, labelfile, spcmapfile
           FROM pg_backup_stop(false)`,
      ),
    );
    const stopLsn = parseLsn(stop.lsn);
    const dbDir = catalogPaths.databaseDir(input.backupDir);
    await writeFileAtomic(path.join(dbDir, 'backup_label'), stop.labelfile, { sync });
    const hasMap = !!stop.spcmapfile && stop.spcmapfile.length > 0;
    if (hasMap) await writeFileAtomic(path.join(dbDir, 'tablespace_map'), stop.spcmapfile!, { sync });
    else await fs.rm(path.join(dbDir, 'tablespace_map'), { force: true });
    // The databases by name, for a partial restore (template0 and template1 are always restored).
    const databases = await conn.query<{ oid: string; datname: string }>(
      "SELECT oid::text AS oid, datname FROM pg_catalog.pg_database WHERE datname NOT IN ('template1'::name, 'template0'::name) ORDER BY pg_database.oid",
    );
    await writeFileAtomic(path.join(dbDir, 'database_map'), formatDatabaseMap(databases.rows.map((r) => ({ dbOid: Number(r.oid), datname: r.datname }))), { sync });

    // The backup is consistent only with the WAL up to its stop LSN inside it.
    await raceAbort(
      receiver.waitFor(lsnToBigInt(stopLsn), Math.max(1, input.archiveTimeoutSec) * 1000, () =>
        ctx.heartbeat({ phase: 'waiting for WAL', stopLsn, receivedLsn: receiver!.receivedLsn }),
        stallMs,
      ),
    );
    await receiver.finish();
    // Every segment from this session's start to stop must be there (the last one zero-padded).
    const names = new Set(await fs.readdir(walDir));
    for (let s = lsnToBigInt(startLsn) / seg; s <= lsnToBigInt(stopLsn) / seg; s++) {
      const n = walFileName(timeline, s, input.walSegmentSize);
      if (!names.has(n)) throw new Error(`WAL segment ${n} was not streamed into the backup`);
    }
    const kept = [...names].filter((f) => /^[0-9A-F]{24}$/.test(f) || f.endsWith('.history')).sort();
    const result: SessionResult = {
      ...session,
      stopLsn,
      recoveryXid: Number(stop.xid),
      recoveryTime: Number(stop.ts),
      tablespaceMap: hasMap,
      databaseMap: true,
      walSegments: kept,
    };
    await writeFileAtomic(resultFile(input.backupDir), JSON.stringify(result), { sync });
    return result;
  } catch (e) {
    const reason = () => serverTermination(connectionLost(conn)) ?? (repl ? serverTermination(connectionLost(repl)) : undefined) ?? serverTermination(e);
    let why = reason();
    // A crash ends every backend at once, but the WAL stream may hang up a few milliseconds before
    // the session's backend says why: give it a moment, so the error names the crash.
    for (let waited = 0; !why && (e === receiver?.error || e === connectionLost(conn)) && waited < 1000; waited += 25) {
      await sleep(25);
      why = reason();
    }
    if (why) {
      throw ApplicationFailure.nonRetryable(
        `the database server ended the backup session: ${why.message}${why.code ? ` (SQLSTATE ${why.code})` : ''}; ` +
          `it crashed, was shut down, or the session was terminated, and PostgreSQL aborted the backup with it: run the backup again`,
        'ServerTerminated',
      );
    }
    throw e;
  } finally {
    if (aliveTimer) clearInterval(aliveTimer);
    await fs.rm(aliveFile(input.backupDir, attempt), { force: true }).catch(() => undefined);
    await receiver?.abandon();
    // Closing the connection aborts a backup still in progress and drops a temporary slot.
    await closePg(conn);
    if (repl) await closePg(repl);
  }
}

/**
 * The backup's own slot is still held by the WAL sender of a lost session (its worker died, or
 * its stream stalled): end that sender, which is ours, before streaming again. A stopped sender
 * cannot exit until it runs again; the activity's retry waits for that.
 */
async function releaseOwnSlot(conn: Client, slot: string, pid: number): Promise<void> {
  await conn.query('SELECT pg_terminate_backend($1)', [pid]);
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    const r = await queryOne<{ pid: number | null }>(conn, `SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    if (!r || r.pid === null) return;
  }
  throw new Error(`replication slot "${slot}" is still held by the WAL sender of a lost session (pid ${pid}): retrying once it exits`);
}

/** Drops the backup's own slot (default mode) once the backup has ended, whatever the outcome. */
export async function dropBackupSlot(input: { connection: PgConnection; backupId: string }): Promise<void> {
  const conn = await connectPg(input.connection);
  try {
    const slot = backupSlotName(input.backupId);
    // An attempt that died may still hold it for a moment, until the server notices the lost connection.
    for (let i = 0; i < 60; i++) {
      const r = await conn.query(`SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
      if (r.rowCount === 0) return;
      const pid = (r.rows[0] as { active_pid: number | null }).active_pid;
      if (pid !== null) await conn.query('SELECT pg_terminate_backend($1)', [pid]);
      try {
        await conn.query('SELECT pg_drop_replication_slot($1)', [slot]);
        return;
      } catch (e) {
        if (!/is active|does not exist/.test((e as Error).message)) throw e;
        if (/does not exist/.test((e as Error).message)) return;
      }
      await sleep(500);
    }
    throw new Error(`replication slot "${slot}" stays active: drop it with pg_drop_replication_slot('${slot}')`);
  } finally {
    await closePg(conn);
  }
}

export const readSession = (backupDir: string) => readJson<SessionStart>(sessionFile(backupDir));

export interface SessionAlive {
  attempt: number;
  receivedLsn: Lsn;
  at: number;
}

/** The alive mark of one session attempt; null while it is being (re)written or once the attempt ended. */
export const readAlive = (backupDir: string, attempt: number) => readJson<SessionAlive>(aliveFile(backupDir, attempt));

async function readStopRequest(backupDir: string): Promise<number | null> {
  try {
    return Number(JSON.parse(await fs.readFile(stopFile(backupDir), 'utf8')).attempt);
  } catch {
    return null;
  }
}

/**
 * The live session: waits (bounded) until a session newer than or equal to `minAttempt` has
 * written its start LSN and shows signs of life (a session whose worker died stops updating its
 * alive file; the activity's retry then opens a new one). Retried by the workflow on timeout.
 */
export async function currentBackupSession(input: { backupDir: string; minAttempt?: number; timeoutSec: number }): Promise<SessionStart & { receivedLsn: Lsn }> {
  const deadline = Date.now() + Math.max(30, input.timeoutSec) * 1000;
  for (;;) {
    const s = await readSession(input.backupDir);
    const alive = s ? await readAlive(input.backupDir, s.attempt) : null;
    if (s && alive && s.attempt >= (input.minAttempt ?? 0) && Date.now() - alive.at < 5000) {
      return { ...s, receivedLsn: alive.receivedLsn };
    }
    if (Date.now() > deadline) throw new Error('no live backup session (pg_backup_start did not return, or the session was lost and is being opened again)');
    await activitySleep(POLL_MS);
  }
}

/**
 * After requestBackupStop: `stopped: true` once the session has stopped (its result is saved, so
 * the session activity returns it at once, even from a retry), `stopped: false` when a newer
 * session is alive instead (the one asked to stop died first). Ends by itself either way, so
 * nothing is left to cancel when the workflow moves on.
 */
export async function awaitSessionEnd(input: { backupDir: string; attempt: number }): Promise<{ stopped: boolean }> {
  for (;;) {
    if (await exists(resultFile(input.backupDir))) return { stopped: true };
    const s = await readSession(input.backupDir);
    const alive = s && s.attempt > input.attempt ? await readAlive(input.backupDir, s.attempt) : null;
    if (alive && Date.now() - alive.at < 5000) return { stopped: false };
    await activitySleep(POLL_MS);
  }
}

/** Tells the session activity of `attempt` that every file is copied: it may call pg_backup_stop. */
export async function requestBackupStop(input: { backupDir: string; attempt: number }): Promise<void> {
  await writeFileAtomic(stopFile(input.backupDir), JSON.stringify({ attempt: input.attempt, at: Date.now() }));
}
