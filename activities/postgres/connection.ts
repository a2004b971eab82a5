/**
 * PostgreSQL connections for activities. Host, port, user and database come from the request (no
 * password: that comes from PGPASSWORD or ~/.pgpass of the worker, never from workflow history);
 * what the request leaves out falls back to libpq's environment variables, as node-pg does.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { Client } from 'pg';
import type { PgConnection } from '../../core/requests';

export async function connectPg(conn: PgConnection, opts: { replication?: boolean; applicationName?: string } = {}): Promise<Client> {
  const client = new Client({
    host: conn.pghost,
    port: conn.pgport,
    user: conn.pguser,
    database: conn.pgdatabase,
    application_name: opts.applicationName ?? 'gs_probackup',
    ...(opts.replication ? { replication: true as unknown as string } : {}),
    connectionTimeoutMillis: 30_000,
    keepAlive: true,
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
    throw new Error(err);
  }
  // A dropped connection must fail the activity, not crash the worker.
  client.on('error', () => undefined);
  return client;
}

export async function queryOne<T>(client: Client, sql: string, params: unknown[] = []): Promise<T> {
  const r = await client.query(sql, params);
  return r.rows[0] as T;
}
