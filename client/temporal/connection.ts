/**
 * One place that decides where Temporal is. TEMPORAL_ADDRESS set: a remote server, the CLI is only a
 * client (workers run as `gs_probackup worker`). Not set: the catalog's embedded dev server, started
 * or reused, with a worker inside the CLI for the command's duration.
 */
import * as fs from 'node:fs';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { taskQueueFromEnv } from '../../core/workflowIds';
import { installRuntime } from '../../workers/runtime';
import { CliError } from '../errors';
import { acquireEmbeddedServer, type EmbeddedRole, type EmbeddedServerLease } from './embeddedServer';

export interface TemporalContext {
  mode: 'embedded' | 'remote';
  address: string;
  namespace: string;
  taskQueue: string;
  client: Client;
  nativeConnection: NativeConnection;
  /** Embedded mode only: the server's registration; close() releases it. */
  embedded?: EmbeddedServerLease;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** The catalog (-B); required in embedded mode, where the server's state lives under it. */
  backupPath?: string;
  env?: Record<string, string | undefined>;
  /** Who uses the embedded server: a `worker` keeps it up for as long as it runs. */
  role?: EmbeddedRole;
}

function tlsFromEnv(env: Record<string, string | undefined>) {
  const cert = env.TEMPORAL_TLS_CERT;
  const key = env.TEMPORAL_TLS_KEY;
  const ca = env.TEMPORAL_TLS_CA;
  if (cert || key) {
    if (!cert || !key) throw new CliError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
    const read = (name: string, file: string) => {
      try {
        return fs.readFileSync(file);
      } catch (e) {
        throw new CliError(`cannot read ${name} file "${file}": ${(e as Error).message}`);
      }
    };
    return {
      clientCertPair: { crt: read('TEMPORAL_TLS_CERT', cert), key: read('TEMPORAL_TLS_KEY', key) },
      ...(ca ? { serverRootCACertificate: read('TEMPORAL_TLS_CA', ca) } : {}),
    };
  }
  if (ca) return { serverRootCACertificate: fs.readFileSync(ca) };
  const flag = (env.TEMPORAL_TLS ?? '').toLowerCase();
  if (flag === 'true' || flag === '1' || env.TEMPORAL_API_KEY) return true;
  return undefined;
}

/** The core's transport errors are nested Rust debug text; users need the last meaningful words. */
export function plainReason(message: string): string {
  if (/connection refused/i.test(message)) return 'connection refused (is the server running and listening on that address?)';
  if (/dns error|failed to lookup|name or service not known|nodename nor servname/i.test(message)) return 'unknown host';
  if (/timed? ?out|deadline/i.test(message)) return 'timed out';
  if (/invalid uri|invalid authority|InvalidUri/i.test(message)) return `invalid address (expected host:port): ${message}`;
  return message;
}

async function open(address: string, namespace: string, env: Record<string, string | undefined>, remote: boolean) {
  installRuntime();
  const where = remote ? `${address} (TEMPORAL_ADDRESS)` : `${address} (embedded server)`;
  let nativeConnection: NativeConnection;
  try {
    nativeConnection = await NativeConnection.connect({
      address,
      ...(remote ? { tls: tlsFromEnv(env), apiKey: env.TEMPORAL_API_KEY || undefined } : {}),
    });
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot connect to Temporal at ${where}: ${plainReason((e as Error).message)}`);
  }
  const client = new Client({ connection: nativeConnection, namespace });
  // The embedded server answered for its namespace as the lease was taken (embeddedServer.ts).
  if (!remote) return { nativeConnection, client };
  try {
    await nativeConnection.withDeadline(Date.now() + 10_000, () => nativeConnection.workflowService.describeNamespace({ namespace }));
  } catch (e) {
    await nativeConnection.close().catch(() => undefined);
    const msg = (e as Error).message;
    if (/not.?found/i.test(msg)) {
      throw new CliError(`namespace "${namespace}" does not exist on Temporal at ${where}: create it, or set TEMPORAL_NAMESPACE`);
    }
    throw new CliError(`cannot connect to Temporal at ${where}: ${plainReason(msg)}`);
  }
  return { nativeConnection, client };
}

export async function connectTemporal(opts: ConnectOptions): Promise<TemporalContext> {
  const env = opts.env ?? process.env;
  const taskQueue = taskQueueFromEnv(env);
  const remoteAddress = env.TEMPORAL_ADDRESS?.trim();
  if (remoteAddress) {
    const namespace = env.TEMPORAL_NAMESPACE?.trim() || 'default';
    const { nativeConnection, client } = await open(remoteAddress, namespace, env, true);
    return {
      mode: 'remote',
      address: remoteAddress,
      namespace,
      taskQueue,
      client,
      nativeConnection,
      close: once(() => nativeConnection.close()),
    };
  }
  if (!opts.backupPath) {
    throw new CliError('no Temporal server: set TEMPORAL_ADDRESS, or give -B/--backup-path (BACKUP_PATH) to use the embedded server');
  }
  const lease = await acquireEmbeddedServer({ backupPath: opts.backupPath, role: opts.role ?? 'cli', env });
  let conn: Awaited<ReturnType<typeof open>>;
  try {
    conn = await open(lease.address, lease.namespace, env, false);
  } catch (e) {
    await lease.release();
    throw e;
  }
  return {
    mode: 'embedded',
    address: lease.address,
    namespace: lease.namespace,
    taskQueue,
    client: conn.client,
    nativeConnection: conn.nativeConnection,
    embedded: lease,
    close: once(async () => {
      try {
        await conn.nativeConnection.close();
      } finally {
        await lease.release();
      }
    }),
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
