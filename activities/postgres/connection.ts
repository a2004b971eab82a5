/**
 * PostgreSQL connections for activities. Host, port, user and database come from the request (no
 * password: that comes from PGPASSWORD or ~/.pgpass of the worker, never from workflow history);
 * what the request leaves out falls back to libpq's environment variables, as node-pg does.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { describeTrust, planSsl, SslConfigError, type SslPlan } from '../../core/pgSsl';
import type { PgConnection } from '../../core/requests';
import { tlsOptions } from './tlsOptions';

type Way = 'tls' | 'plain';

export async function connectPg(conn: PgConnection, opts: { replication?: boolean; applicationName?: string } = {}): Promise<Client> {
  // Loaded on the first connection: the commands that never connect (restore, validate, merge,
  // delete) do not pay its 50 ms of start-up.
  const { Client } = require('pg') as typeof import('pg');
  const host = conn.pghost ?? process.env.PGHOST ?? 'localhost';
  const where = `${host}:${conn.pgport ?? process.env.PGPORT ?? 5432}`;
  const failed = `could not connect to database server at ${where}${opts.replication ? ' (replication)' : ''}`;
  const plan = sslSettings(() => planSsl(process.env, host, os.homedir(), fs.existsSync), failed);
  let ways: Way[] = plan.fallback ? [plan.first, plan.first === 'tls' ? 'plain' : 'tls'] : [plan.first];
  // prefer: a server that said it has no TLS is not asked again for a while (a backup opens several
  // connections; a long-running worker still sees TLS turned on later).
  if (plan.mode === 'prefer' && Date.now() - (serversWithoutTls.get(where) ?? -Infinity) < NO_TLS_MEMORY_MS) ways = ['plain'];
  const failures: { way: Way; error: Error }[] = [];
  for (const way of ways) {
    const ssl = way === 'tls' ? sslSettings(() => tlsOptions(plan, process.env.GS_PROBACKUP_EXTRA_CA_CERTS), failed) : false;
    const client = new Client({
      host: conn.pghost,
      port: conn.pgport,
      user: conn.pguser,
      database: conn.pgdatabase,
      application_name: opts.applicationName ?? 'gs_probackup',
      ...(opts.replication ? { replication: true as unknown as string } : {}),
      connectionTimeoutMillis: 30_000,
      keepAlive: true,
      ssl,
    } as ConstructorParameters<typeof Client>[0]);
    try {
      await client.connect();
    } catch (e) {
      const error = e as Error;
      failures.push({ way, error });
      if (way === 'tls' && NO_TLS.test(error.message)) serversWithoutTls.set(where, Date.now());
      if (!worthOtherWay(way, error)) break;
      continue;
    }
    // A dropped connection must fail the activity, not crash the worker; why it dropped is kept.
    client.on('error', (e: Error) => {
      if (!lostConnections.has(client)) lostConnections.set(client, e);
    });
    // A backend told to quit by a crash or an immediate shutdown says why in a WARNING, then hangs up.
    client.on('notice', (n) => {
      if (serverTermination(n) && !lostConnections.has(client)) lostConnections.set(client, Object.assign(new Error(n.message), { code: n.code }));
    });
    return client;
  }
  throw connectFailure(failed, plan, failures);
}

const lostConnections = new WeakMap<Client, Error>();
const serversWithoutTls = new Map<string, number>();
const NO_TLS_MEMORY_MS = 10 * 60_000;
const NO_TLS = /does not support SSL/;

/** A TLS setting libpq would refuse fails the activity at once: no retry mends a missing file. */
function sslSettings<T>(read: () => T, failed: string): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof SslConfigError) throw ApplicationFailure.nonRetryable(`${failed}: ${e.message}`, 'TlsSettings');
    throw e;
  }
}

/**
 * Whether libpq would try again the other way after this failure: prefer after any failure once
 * the server was reached (no TLS, a certificate that does not verify, a refusal over TLS); allow
 * after the server refused plain text.
 */
function worthOtherWay(way: Way, e: Error): boolean {
  if (way === 'plain') return 'severity' in e;
  return !/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT)$/.test(errorCode(e)) && !/timeout/i.test(e.message);
}

/**
 * The error of a connection that failed every way it was tried, each attempt's reason as libpq gives
 * them: nonRetryable when the refusal does not heal by itself (credentials, pg_hba.conf,
 * certificates), retryable when the server may just be down.
 */
function connectFailure(failed: string, plan: SslPlan, failures: { way: Way; error: Error }[]): Error {
  const reasons = failures.map((f) => (failures.length > 1 ? `${f.way === 'tls' ? 'with' : 'without'} TLS: ` : '') + f.error.message.trim());
  const msg = `${failed}: ${reasons.join('; ')}`;
  // A server without TLS is no refusal to prefer, which went on without it.
  const tlsFailure = failures.find((f) => f.way === 'tls' && isTlsRefusal(f.error) && !(plan.fallback && NO_TLS.test(f.error.message)));
  if (tlsFailure) {
    const advice = NO_TLS.test(tlsFailure.error.message)
      ? `, but PGSSLMODE requires TLS (PGSSLMODE=${plan.mode}: prefer uses TLS when the server offers it, disable never)`
      : ` (PGSSLMODE=${plan.mode}: ${describeTrust(plan)}; PGSSLROOTCERT names the CA's file, PGSSLMODE=require without a root ` +
        'certificate encrypts without checking it, disable turns TLS off)';
    return ApplicationFailure.nonRetryable(msg + advice, 'TlsRefused');
  }
  // Wrong credentials, a missing database, a missing client certificate do not heal by retrying; a server that is down may.
  if (failures.some((f) => REFUSED.test(f.error.message))) return ApplicationFailure.nonRetryable(msg, 'ConnectionRefusedByServer');
  return new Error(msg);
}

const REFUSED =
  /password authentication|no pg_hba.conf entry|does not exist|role .* is not permitted|permission denied|valid client certificate|certificate authentication failed/i;

/** A failure of TLS itself, on our side of the connection (the server's own refusals carry a severity). */
function isTlsRefusal(e: Error): boolean {
  if ('severity' in e) return false;
  return /certificate|altnames|SSL|TLS/i.test(e.message) || /CERT|SELF_SIGNED|ERR_SSL|ERR_TLS/.test(errorCode(e));
}

/** Node's system or TLS error code, '' when there is none. */
function errorCode(e: Error): string {
  return String((e as { code?: unknown }).code ?? '');
}

/**
 * Ends a connection, bounded: a graceful end waits for the server to hang up, and a backend or WAL
 * sender that is stopped (SIGSTOP, a frozen host) never does, which would hold the activity and its
 * worker's shutdown forever. Past `ms` the socket is destroyed.
 */
export async function closePg(client: Client, ms = 3000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    client.end().then(() => true, () => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  if (!ended) (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** Why the server dropped this connection, once it has. */
export function connectionLost(client: Client): Error | undefined {
  return lostConnections.get(client);
}

/**
 * The server ended the connection because it crashed or is shutting down: PostgreSQL sends
 * 57P02 (crash of another server process), 57P01 (shutdown, or pg_terminate_backend) or 57P03
 * (starting up, in recovery). A backup session cannot outlive that: PostgreSQL has aborted the
 * backup with it, and retrying would only race a server in crash recovery.
 */
export function serverTermination(e: unknown): { message: string; code?: string } | undefined {
  const err = e as { code?: string; message?: string; cause?: unknown } | undefined;
  if (!err) return undefined;
  if (err.code === '57P01' || err.code === '57P02' || err.code === '57P03') return { message: err.message ?? '', code: err.code };
  if (/terminating connection because of crash|terminating connection due to (administrator|immediate shutdown)/.test(err.message ?? '')) {
    return { message: err.message ?? '' };
  }
  return err.cause !== undefined ? serverTermination(err.cause) : undefined;
}

/**
 * What changes when the server restarts or recovers from a crash: the postmaster's start time
 * (restart), and the reset time of the fixed statistics, which crash recovery resets too (a
 * backend's crash reinitialises the server without a new postmaster).
 */
export async function serverEpoch(client: Client): Promise<string> {
  const r = await queryOne<{ epoch: string }>(
    client,
    `SELECT pg_postmaster_start_time()::text || ' / ' || coalesce((SELECT stats_reset FROM pg_stat_bgwriter)::text, '-') AS epoch`,
  );
  return r.epoch;
}

export async function queryOne<T>(client: Client, sql: string, params: unknown[] = []): Promise<T> {
  const r = await client.query(sql, params);
  return r.rows[0] as T;
}
