/**
 * PostgreSQL connections for activities. Host, port, user and database come from the request (no
 * password: that comes from PGPASSWORD or ~/.pgpass of the worker, never from workflow history);
 * what the request leaves out falls back to libpq's environment variables, as node-pg does.
 */
import * as fs from 'node:fs';
import type { SecureContext } from 'node:tls';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import type { PgConnection } from '../../core/requests';

export async function connectPg(conn: PgConnection, opts: { replication?: boolean; applicationName?: string } = {}): Promise<Client> {
  // Loaded on the first connection: the commands that never connect (restore, validate, merge,
  // delete) do not pay its 50 ms of start-up.
  const { Client } = require('pg') as typeof import('pg');
  const client = new Client({
    host: conn.pghost,
    port: conn.pgport,
    user: conn.pguser,
    database: conn.pgdatabase,
    application_name: opts.applicationName ?? 'gs_probackup',
    ...(opts.replication ? { replication: true as unknown as string } : {}),
    connectionTimeoutMillis: 30_000,
    keepAlive: true,
    ...extraCaSsl(process.env),
  } as ConstructorParameters<typeof Client>[0]);
  try {
    await client.connect();
  } catch (e) {
    const where = `${conn.pghost ?? process.env.PGHOST ?? 'localhost'}:${conn.pgport ?? process.env.PGPORT ?? 5432}`;
    const msg = (e as Error).message;
    const err = `could not connect to database server at ${where}${opts.replication ? ' (replication)' : ''}: ${msg}`;
    // Wrong credentials or a missing database do not heal by retrying; a server that is down may.
    if (/password authentication|no pg_hba.conf entry|does not exist|role .* is not permitted|permission denied/i.test(msg)) {
      throw ApplicationFailure.nonRetryable(err, 'ConnectionRefusedByServer');
    }
    // A certificate that does not verify, or a server without TLS, stays so until someone acts.
    if (/certificate|altnames|does not support SSL/i.test(msg) || /CERT|SELF_SIGNED/.test(String((e as { code?: unknown }).code ?? ''))) {
      throw ApplicationFailure.nonRetryable(
        `${err} (PGSSLMODE=${process.env.PGSSLMODE}: the server's certificate is checked against Node's CAs and those of ` +
          'NODE_EXTRA_CA_CERTS; PGSSLMODE=no-verify encrypts without checking it, disable turns TLS off)',
        'TlsRefused',
      );
    }
    throw new Error(err);
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

const lostConnections = new WeakMap<Client, Error>();

/** The TLS context of each extra-CA file, made once: a `ca` list would be parsed again by every connection. */
const extraCaContexts = new Map<string, SecureContext | null>();

/**
 * The certificates of NODE_EXTRA_CA_CERTS, for a TLS connection to PostgreSQL. Node reads that file
 * as every process starts (0.07-0.14 s of each command), so the launcher moves the variable to
 * GS_PROBACKUP_EXTRA_CA_CERTS and node-pg gets the certificates here, with Node's bundled ones, as
 * Node's own store would have had them. node-pg uses TLS when PGSSLMODE asks for it; no-verify
 * checks no certificate.
 */
export function extraCaSsl(env: NodeJS.ProcessEnv): { ssl: { secureContext: SecureContext } } | Record<string, never> {
  const file = env.GS_PROBACKUP_EXTRA_CA_CERTS;
  const mode = env.PGSSLMODE;
  if (!file || (mode !== 'prefer' && mode !== 'require' && mode !== 'verify-ca' && mode !== 'verify-full')) return {};
  let context = extraCaContexts.get(file);
  if (context === undefined) {
    const tls = require('node:tls') as typeof import('node:tls');
    try {
      context = tls.createSecureContext({ ca: [...tls.rootCertificates, fs.readFileSync(file, 'utf8')] });
    } catch (e) {
      // What Node does with an unreadable NODE_EXTRA_CA_CERTS: warn, and trust its bundled CAs only.
      process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
      context = null;
    }
    extraCaContexts.set(file, context);
  }
  return context ? { ssl: { secureContext: context } } : {};
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
