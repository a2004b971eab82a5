/**
 * Real PostgreSQL 15 clusters for tests: initdb -k into a temp dir, a free port, the unix socket in
 * the temp dir, wal_level=replica. Must run as an unprivileged OS user (scripts/test.sh runs jest as
 * `postgres`). Every cluster is registered so that globalTeardown stops what a failed test left.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const PG_BIN_DIR = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

export function pgBin(name: string): string {
  return path.join(PG_BIN_DIR, name);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, capturing its output (never throws on a non-zero exit). */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string | undefined>; input?: string; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ClusterOptions {
  /** initdb -k (default true). */
  checksums?: boolean;
  /** pgbench -i -s N after start. */
  pgbenchScale?: number;
  /** Extra postgresql.conf lines. */
  conf?: Record<string, string | number>;
  /** Start the server (default true). */
  start?: boolean;
  initdbArgs?: string[];
}

export interface PgCluster {
  root: string;
  pgdata: string;
  port: number;
  socketDir: string;
  binDir: string;
  /** PGHOST/PGPORT/PGUSER/PGDATABASE for this cluster (what the CLI reads). */
  env: Record<string, string>;
  psql(sql: string, db?: string): Promise<string>;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  destroy(): Promise<void>;
}

/** Where clusters register themselves for globalTeardown (set by test/setup/globalSetup). */
function registryDir(): string | undefined {
  return process.env.GS_TEST_RUN_DIR ? path.join(process.env.GS_TEST_RUN_DIR, 'clusters') : undefined;
}

export async function createCluster(opts: ClusterOptions = {}): Promise<PgCluster> {
  if (process.getuid?.() === 0) {
    throw new Error('PostgreSQL refuses to run as root: run the tests with "npm test" (scripts/test.sh runs them as the postgres user)');
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gspg-'));
  const pgdata = path.join(root, 'data');
  const socketDir = root;
  const port = await freePort();
  const user = os.userInfo().username;
  const initdb = await run(pgBin('initdb'), [
    ...(opts.checksums === false ? [] : ['-k']), '-D', pgdata, '-U', user, '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C',
    ...(opts.initdbArgs ?? []),
  ]);
  if (initdb.code !== 0) throw new Error(`initdb failed: ${initdb.stderr}`);
  const conf: Record<string, string | number> = {
    port,
    listen_addresses: "''",
    unix_socket_directories: `'${socketDir}'`,
    wal_level: 'replica',
    max_wal_senders: 10,
    max_replication_slots: 10,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'on',
    shared_buffers: '64MB',
    max_connections: 50,
    logging_collector: 'off',
    ...opts.conf,
  };
  fs.appendFileSync(path.join(pgdata, 'postgresql.conf'), '\n' + Object.entries(conf).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  fs.appendFileSync(path.join(pgdata, 'pg_hba.conf'), '\nlocal replication all trust\n');
  const reg = registryDir();
  if (reg) {
    fs.mkdirSync(reg, { recursive: true });
    fs.writeFileSync(path.join(reg, path.basename(root)), pgdata);
  }
  const env = { PGHOST: socketDir, PGPORT: String(port), PGUSER: user, PGDATABASE: 'postgres' };
  const logFile = path.join(root, 'server.log');

  const cluster: PgCluster = {
    root,
    pgdata,
    port,
    socketDir,
    binDir: PG_BIN_DIR,
    env,
    async psql(sql: string, db = 'postgres') {
      const r = await run(pgBin('psql'), ['-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(port), '-d', db, '-f', '-'], { input: sql });
      if (r.code !== 0) throw new Error(`psql failed: ${r.stderr}\nSQL: ${sql}`);
      return r.stdout.trim();
    },
    async start() {
      const r = await run(pgBin('pg_ctl'), ['-D', pgdata, '-w', '-t', '120', '-l', logFile, 'start']);
      if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.stderr}\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''}`);
    },
    async stop(mode = 'fast') {
      if (!fs.existsSync(path.join(pgdata, 'postmaster.pid'))) return;
      await run(pgBin('pg_ctl'), ['-D', pgdata, '-w', '-t', '120', '-m', mode, 'stop']);
    },
    async destroy() {
      await cluster.stop('immediate');
      fs.rmSync(root, { recursive: true, force: true });
      if (reg) fs.rmSync(path.join(reg, path.basename(root)), { force: true });
    },
  };
  if (opts.start !== false) {
    await cluster.start();
    if (opts.pgbenchScale) {
      const r = await run(pgBin('pgbench'), ['-i', '-q', '-s', String(opts.pgbenchScale), '-h', socketDir, '-p', String(port), 'postgres']);
      if (r.code !== 0) throw new Error(`pgbench -i failed: ${r.stderr}`);
      await cluster.psql('CHECKPOINT');
    }
  }
  return cluster;
}
