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
import { lsnToBigInt, parseLsn, walFileName, type Lsn } from '../../core/lsn';
import type { PgConnection } from '../../core/requests';
import { writeFileAtomic } from '../atomicWrite';
import { connectPg, queryOne } from './connection';
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
}

export interface SessionResult extends SessionStart {
  stopLsn: Lsn;
  recoveryXid: number;
  recoveryTime: number;
  tablespaceMap: boolean;
  /** Segment file names written into database/pg_wal (plus a timeline history file if any). */
  walSegments: string[];
}

const SESSION_FILE = 'session.json';
const STOP_FILE = 'stop-request';

const sessionFile = (backupDir: string) => path.join(catalogPaths.stateDir(backupDir), SESSION_FILE);
const stopFile = (backupDir: string) => path.join(catalogPaths.stateDir(backupDir), STOP_FILE);

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function backupSession(input: BackupSessionInput): Promise<SessionResult> {
  const ctx = Context.current();
  const attempt = ctx.info.attempt;
  const sync = !input.noSync;
  const walDir = path.join(catalogPaths.databaseDir(input.backupDir), 'pg_wal');
  await fs.mkdir(walDir, { recursive: true, mode: 0o700 });
  await fs.mkdir(catalogPaths.stateDir(input.backupDir), { recursive: true, mode: 0o700 });

  const conn = await connectPg(input.connection);
  let repl: Client | null = null;
  let receiver: WalReceiver | null = null;
  const abort = new Promise<never>((_, reject) => {
    ctx.cancelled.catch((e) => reject(e));
  });
  abort.catch(() => undefined);
  const raceAbort = <T>(p: Promise<T>) => Promise.race([p, abort]);
  try {
    repl = await connectPg(input.connection, { replication: true, applicationName: 'gs_probackup_wal' });
    // Without -S the session still needs WAL kept from its start: a temporary slot does that, as
    // pg_basebackup does; it vanishes with the connection.
    let slot = input.slot;
    if (slot && !input.tempSlot) {
      const row = await queryOne<{ n: string }>(conn, `SELECT count(*)::text AS n FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical'`, [slot]);
      if (row.n === '0') {
        throw ApplicationFailure.nonRetryable(`replication slot "${slot}" does not exist: create it with pg_create_physical_replication_slot(), or use --temp-slot`, 'ConfigurationError');
      }
    } else {
      slot = slot ?? `gs_probackup_${input.backupId.toLowerCase()}_${attempt}`;
      await repl.query(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY PHYSICAL RESERVE_WAL`);
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
    receiver = new WalReceiver(repl, walDir, timeline, input.walSegmentSize, sync);
    receiver.start(lsnToBigInt(startLsn), slot);
    const session: SessionStart = { startLsn, timeline, attempt };
    await writeFileAtomic(sessionFile(input.backupDir), JSON.stringify(session), { sync });

    // Hold the session until the workflow says the copy is done.
    for (;;) {
      ctx.heartbeat({ phase: 'copying', startLsn, receivedLsn: receiver.receivedLsn });
      if (receiver.error) throw receiver.error;
      if (await exists(stopFile(input.backupDir))) break;
      await raceAbort(sleep(500));
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

    // The backup is consistent only with the WAL up to its stop LSN inside it.
    await raceAbort(
      receiver.waitFor(lsnToBigInt(stopLsn), Math.max(1, input.archiveTimeoutSec) * 1000, () =>
        ctx.heartbeat({ phase: 'waiting for WAL', stopLsn, receivedLsn: receiver!.receivedLsn }),
      ),
    );
    const segments = await receiver.finish();
    const names = new Set(segments);
    // Every segment from start to stop must be there (the last one zero-padded past the stop LSN).
    const seg = BigInt(input.walSegmentSize);
    for (let s = lsnToBigInt(startLsn) / seg; s <= lsnToBigInt(stopLsn) / seg; s++) {
      const n = walFileName(timeline, s, input.walSegmentSize);
      if (!names.has(n)) throw new Error(`WAL segment ${n} was not streamed into the backup`);
    }
    const history = (await fs.readdir(walDir)).filter((f) => f.endsWith('.history'));
    return {
      startLsn,
      timeline,
      attempt,
      stopLsn,
      recoveryXid: Number(stop.xid),
      recoveryTime: Number(stop.ts),
      tablespaceMap: hasMap,
      walSegments: [...segments, ...history].sort(),
    };
  } finally {
    receiver?.stopTimers();
    // Closing the connection aborts a backup still in progress and drops the temporary slot.
    await conn.end().catch(() => undefined);
    await repl?.end().catch(() => undefined);
  }
}

/** Waits (short activity, bounded) until the session activity has written its start LSN. */
export async function waitForBackupSession(input: { backupDir: string; timeoutSec: number }): Promise<SessionStart> {
  const deadline = Date.now() + Math.max(30, input.timeoutSec) * 1000;
  for (;;) {
    try {
      return JSON.parse(await fs.readFile(sessionFile(input.backupDir), 'utf8')) as SessionStart;
    } catch {
      if (Date.now() > deadline) throw new Error('the backup session did not start (pg_backup_start did not return)');
      await sleep(200);
    }
  }
}

/** Tells the session activity that every file is copied: it may call pg_backup_stop. */
export async function requestBackupStop(input: { backupDir: string }): Promise<void> {
  await writeFileAtomic(stopFile(input.backupDir), `${Date.now()}\n`);
}
