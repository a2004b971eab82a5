/**
 * Embedded mode: a Temporal dev server per backup catalog, its state in <BACKUP_PATH>/.temporal/.
 *
 *   temporal.db    the server's SQLite database: workflows survive restarts of server and CLI
 *   server.json    {pid, procStart, port, uiPort, startedAt, binary} of the running server
 *   server.log     its output
 *   lock           O_EXCL lock serializing start, reuse and stop decisions between processes
 *   clients/       one file per live user of the server (a CLI command or `gs_probackup worker`)
 *   idle           {pid, since} written by the last user to leave, while the server lingers
 *
 * The server is started detached (own session), so a Ctrl-C on the CLI's terminal does not kill it
 * in the middle of a write. Starting it costs about 1.2 s and stopping it 1.4 s, a quarter of a
 * small backup: so the last user to leave does not stop it but leaves it idle for
 * GS_PROBACKUP_SERVER_LINGER seconds (default 60; 0 stops it at once), and a detached janitor
 * (serverJanitor.ts) stops it then unless someone used it meanwhile. A command never waits for the
 * stop. A user that dies without leaving leaves a file whose pid is dead; such files do not count,
 * so the server then lives until the next user leaves (or forever if none comes; it is cheap and
 * the next CLI reuses it).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { catalogPaths } from '../../core/catalogPaths';
import { SEARCH_ATTRIBUTE_NAMES } from '../../core/workflowIds';
import { CliError } from '../errors';
import { temporalCliPath } from './installPaths';
import {
  currentProcessRecord,
  isProcessAlive,
  processArgv,
  processStartTime,
  sleep,
  terminateProcess,
  type ProcessRecord,
} from './processes';

export const EMBEDDED_NAMESPACE = 'default';

export interface EmbeddedServerInfo {
  pid: number;
  procStart?: number;
  port: number;
  uiPort: number;
  startedAt: string;
  binary: string;
}

export interface EmbeddedServerPaths {
  dir: string;
  db: string;
  serverJson: string;
  log: string;
  lock: string;
  clients: string;
  idle: string;
}

export function embeddedServerPaths(backupPath: string): EmbeddedServerPaths {
  const dir = catalogPaths.temporalDir(path.resolve(backupPath));
  return {
    dir,
    db: path.join(dir, 'temporal.db'),
    serverJson: path.join(dir, 'server.json'),
    log: path.join(dir, 'server.log'),
    lock: path.join(dir, 'lock'),
    clients: path.join(dir, 'clients'),
    idle: path.join(dir, 'idle'),
  };
}

export type EmbeddedRole = 'cli' | 'worker';

export interface EmbeddedServerLease {
  address: string;
  namespace: string;
  server: EmbeddedServerInfo;
  paths: EmbeddedServerPaths;
  /** True when an already running server was reused. */
  reused: boolean;
  /** Unregisters this user; stops the server when no live user remains. Idempotent. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  backupPath: string;
  role: EmbeddedRole;
  env?: Record<string, string | undefined>;
  /** How long the server may take to accept connections (default 60 s). */
  startTimeoutMs?: number;
}

export const LINGER_ENV = 'GS_PROBACKUP_SERVER_LINGER';
const DEFAULT_LINGER_S = 60;
const LOCK_WAIT_MS = 120_000;
const STOP_GRACE_MS = 10_000;
const LOG_ROTATE_BYTES = 16 * 1024 * 1024;

/** Starts or reuses the catalog's server and registers the caller as one of its users. */
export async function acquireEmbeddedServer(opts: AcquireOptions): Promise<EmbeddedServerLease> {
  const paths = embeddedServerPaths(opts.backupPath);
  const lingerMs = serverLingerMs(opts.env ?? process.env);
  prepareDir(paths);
  const { server, reused, registration } = await withLock(paths, async () => {
    let info = readServerInfo(paths);
    let reused = false;
    if (info && isOurServer(info, paths) && (await answers(info.port, 3000))) {
      reused = true;
    } else {
      if (info && isOurServer(info, paths)) {
        // Alive but not answering: a second server on the same database must never run.
        await terminateProcess(info, STOP_GRACE_MS);
      }
      // A server left on this path by a catalog that was removed and made again (a lingering one
      // whose database file was deleted under it) shares the SQLite journal files by name.
      for (const pid of serversOnDatabase(paths)) await terminateProcess({ pid }, STOP_GRACE_MS);
      fs.rmSync(paths.serverJson, { force: true });
      info = await startServer(paths, opts.env ?? process.env, opts.startTimeoutMs ?? 60_000);
    }
    const registration = register(paths, opts.role);
    return { server: info, reused, registration };
  });
  let released = false;
  return {
    address: `127.0.0.1:${server.port}`,
    namespace: EMBEDDED_NAMESPACE,
    server,
    paths,
    reused,
    release: async () => {
      if (released) return;
      released = true;
      await withLock(paths, async () => {
        fs.rmSync(registration, { force: true });
        if (liveUsers(paths).length > 0) return;
        const current = readServerInfo(paths);
        if (current && isOurServer(current, paths)) {
          if (lingerMs > 0 && leaveIdle(paths, current, opts.backupPath, lingerMs)) return;
          await terminateProcess(current, STOP_GRACE_MS);
        }
        fs.rmSync(paths.serverJson, { force: true });
        fs.rmSync(paths.idle, { force: true });
      });
    },
  };
}

/** GS_PROBACKUP_SERVER_LINGER in milliseconds. */
export function serverLingerMs(env: Record<string, string | undefined>): number {
  const raw = env[LINGER_ENV];
  if (raw === undefined || raw === '') return DEFAULT_LINGER_S * 1000;
  if (!/^\d+$/.test(raw.trim())) {
    throw new CliError(`${LINGER_ENV} is "${raw}": give the seconds the embedded Temporal server stays up after the last command (0 stops it at once; default ${DEFAULT_LINGER_S})`);
  }
  return Number(raw.trim()) * 1000;
}

interface IdleMark {
  /** The lingering server. */
  pid: number;
  since: number;
  /** The janitor that will stop it: one per catalog, however many commands leave. */
  janitor?: ProcessRecord;
}

/**
 * Records that the server is idle and makes sure a janitor will stop it after `lingerMs`: the one
 * already waiting (it goes back to sleep when it finds a newer mark), or a new one. False when no
 * janitor can run (no compiled janitor next to this file): the caller stops the server itself.
 */
function leaveIdle(paths: EmbeddedServerPaths, server: EmbeddedServerInfo, backupPath: string, lingerMs: number): boolean {
  const script = janitorScript();
  if (!script) return false;
  const previous = readIdle(paths);
  let janitor = previous?.pid === server.pid && previous.janitor && isProcessAlive(previous.janitor) ? previous.janitor : undefined;
  if (!janitor) {
    const child = spawn(process.execPath, [script, path.resolve(backupPath), String(lingerMs), String(server.pid)], {
      cwd: paths.dir,
      detached: true,
      stdio: 'ignore',
    });
    child.on('error', () => undefined); // the server is then stopped by the next user that leaves
    child.unref();
    if (child.pid !== undefined) janitor = { pid: child.pid, procStart: processStartTime(child.pid) };
  }
  const mark: IdleMark = { pid: server.pid, since: Date.now(), janitor };
  fs.writeFileSync(paths.idle, JSON.stringify(mark) + '\n', { mode: 0o600 });
  return true;
}

/** The compiled janitor: beside this file in dist/, or in dist/ when this file runs from source (tests). */
function janitorScript(): string | undefined {
  const candidates = [path.join(__dirname, 'serverJanitor.js'), path.resolve(__dirname, '../../dist/client/temporal/serverJanitor.js')];
  return candidates.find((f) => fs.existsSync(f));
}

function readIdle(paths: EmbeddedServerPaths): IdleMark | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(paths.idle, 'utf8')) as IdleMark;
    return Number.isInteger(v.pid) && Number.isFinite(v.since) ? v : undefined;
  } catch {
    return undefined;
  }
}

export type JanitorVerdict = { done: 'stopped' | 'in use' | 'not mine' } | { sleepMs: number };

/**
 * The janitor's decision when it wakes: stop the server if nobody has used it for `lingerMs`, or
 * sleep again until then (a command came and left meanwhile). 'in use': a user holds it, and the
 * janitor exits (that user starts one when it leaves); 'not mine': another janitor took over.
 */
export async function stopIdleEmbeddedServer(backupPath: string, lingerMs: number, serverPid: number): Promise<JanitorVerdict> {
  const paths = embeddedServerPaths(backupPath);
  if (!fs.existsSync(paths.dir)) {
    // The catalog was removed under a lingering server: stop it if it still is the one on that database.
    const argv = processArgv(serverPid);
    if (argv?.includes(paths.db)) await terminateProcess({ pid: serverPid }, STOP_GRACE_MS);
    return { done: 'stopped' };
  }
  return withLock(paths, async (): Promise<JanitorVerdict> => {
    if (liveUsers(paths).length > 0) return { done: 'in use' };
    const idle = readIdle(paths);
    if (!idle || idle.pid !== serverPid || (idle.janitor && idle.janitor.pid !== process.pid)) return { done: 'not mine' };
    const left = idle.since + lingerMs - Date.now();
    if (left > 0) return { sleepMs: left };
    const info = readServerInfo(paths);
    if (info && info.pid === serverPid && isOurServer(info, paths)) await terminateProcess(info, STOP_GRACE_MS);
    fs.rmSync(paths.serverJson, { force: true });
    fs.rmSync(paths.idle, { force: true });
    return { done: 'stopped' };
  });
}

/** Stops the catalog's server whoever uses it (administration and tests). */
export async function stopEmbeddedServer(backupPath: string): Promise<void> {
  const paths = embeddedServerPaths(backupPath);
  if (!fs.existsSync(paths.dir)) return;
  await withLock(paths, async () => {
    const info = readServerInfo(paths);
    if (info && isOurServer(info, paths)) await terminateProcess(info, STOP_GRACE_MS);
    fs.rmSync(paths.serverJson, { force: true });
    fs.rmSync(paths.idle, { force: true });
  });
}

export function readServerInfo(paths: EmbeddedServerPaths): EmbeddedServerInfo | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(paths.serverJson, 'utf8')) as EmbeddedServerInfo;
    return Number.isInteger(v.pid) && Number.isInteger(v.port) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Live registrations (role.pid.seq file names); stale ones are removed on the way. */
export function liveUsers(paths: EmbeddedServerPaths): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(paths.clients);
  } catch {
    return [];
  }
  const live: string[] = [];
  for (const name of names) {
    const file = path.join(paths.clients, name);
    let rec: ProcessRecord | undefined;
    try {
      rec = JSON.parse(fs.readFileSync(file, 'utf8')) as ProcessRecord;
    } catch {
      rec = undefined;
    }
    if (rec && isProcessAlive(rec)) live.push(name);
    else fs.rmSync(file, { force: true });
  }
  return live;
}

function prepareDir(paths: EmbeddedServerPaths): void {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  try {
    fs.mkdirSync(paths.clients, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CliError(`cannot create directory "${paths.clients}" for the embedded Temporal server: ${(e as Error).message}`);
  }
  for (const d of [paths.dir, paths.clients]) {
    const st = fs.statSync(d);
    if (uid !== undefined && st.uid !== uid) {
      throw new CliError(
        `directory "${d}" belongs to another OS user (uid ${st.uid}): run gs_probackup as the user that owns the backup catalog`,
      );
    }
    if ((st.mode & 0o777) !== 0o700) fs.chmodSync(d, 0o700);
  }
}

let registrationSeq = 0;

function register(paths: EmbeddedServerPaths, role: EmbeddedRole): string {
  const me = currentProcessRecord();
  const file = path.join(paths.clients, `${role}.${me.pid}.${++registrationSeq}`);
  fs.writeFileSync(file, JSON.stringify({ ...me, role, startedAt: new Date().toISOString() }) + '\n', { mode: 0o600 });
  return file;
}

/** Temporal servers of this user started on this catalog's database path, recorded or not. */
function serversOnDatabase(paths: EmbeddedServerPaths): number[] {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const p of pids) {
    const argv = processArgv(Number(p));
    if (!argv || !argv.includes('start-dev')) continue;
    const i = argv.indexOf('--db-filename');
    if (i >= 0 && argv[i + 1] === paths.db) found.push(Number(p));
  }
  return found;
}

/** The recorded pid is alive, is the same process, and runs on this catalog's database. */
function isOurServer(info: EmbeddedServerInfo, paths: EmbeddedServerPaths): boolean {
  if (!isProcessAlive(info)) return false;
  const argv = processArgv(info.pid);
  return argv === undefined || argv.includes(paths.db);
}

async function withLock<T>(paths: EmbeddedServerPaths, fn: () => Promise<T>): Promise<T> {
  const me = currentProcessRecord();
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = fs.openSync(paths.lock, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
      fs.writeSync(fd, JSON.stringify(me) + '\n');
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CliError(`cannot create lock file "${paths.lock}": ${(e as Error).message}`);
      }
    }
    const holder = readRecord(paths.lock);
    if (holder === undefined || !isProcessAlive(holder)) {
      reclaimStaleLock(paths.lock, holder);
      continue;
    }
    if (Date.now() > deadline) {
      throw new CliError(
        `lock file "${paths.lock}" is held by process ${holder.pid} for more than ${LOCK_WAIT_MS / 1000} s: ` +
          `if that process is hung, stop it and run the command again`,
      );
    }
    await sleep(100);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(paths.lock, { force: true });
  }
}

function readRecord(file: string): ProcessRecord | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as ProcessRecord;
    return Number.isInteger(v.pid) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes a lock whose holder is dead. Renaming first makes the removal atomic: if another process
 * reclaimed and re-created the lock between our read and our rename, we notice the live content
 * and put it back instead of deleting a held lock.
 */
function reclaimStaleLock(lock: string, seen: ProcessRecord | undefined): void {
  const aside = `${lock}.stale.${process.pid}`;
  try {
    fs.renameSync(lock, aside);
  } catch {
    return; // someone else reclaimed it
  }
  const moved = readRecord(aside);
  if (moved && isProcessAlive(moved) && (seen === undefined || moved.pid !== seen.pid)) {
    try {
      fs.linkSync(aside, lock);
    } catch {
      /* a third process holds a new lock; the moved one's holder will find its lock gone on release, harmlessly */
    }
  } else if (seen === undefined) {
    // Empty or unreadable: it may be a lock whose holder has not written its pid yet.
    const age = Date.now() - fs.statSync(aside).mtimeMs;
    if (age < 2000) {
      try {
        fs.linkSync(aside, lock);
      } catch {
        /* ignore */
      }
    }
  }
  fs.rmSync(aside, { force: true });
}

/** A TCP port free on 127.0.0.1 right now (it may be taken before it is used: callers retry). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The server accepts gRPC and knows the namespace (it registers it during start-up). Asked through
 * the core SDK's connection, as the command's own is made: grpc-js's first connection cost every
 * command about 70 ms more. Loaded here, not at the top: the janitor never asks.
 */
async function answers(port: number, timeoutMs: number): Promise<boolean> {
  const { NativeConnection } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  (require('../../workers/runtime') as typeof import('../../workers/runtime')).installRuntime();
  const connecting = NativeConnection.connect({ address: `127.0.0.1:${port}` });
  let conn: Awaited<typeof connecting> | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs)));
    conn = await Promise.race([connecting, late]);
    const c = conn;
    await c.withDeadline(Date.now() + timeoutMs, () => c.workflowService.describeNamespace({ namespace: EMBEDDED_NAMESPACE }));
    return true;
  } catch {
    // A connection that comes after the timeout is closed when it comes.
    if (!conn) void connecting.then((c) => c.close()).catch(() => undefined);
    return false;
  } finally {
    clearTimeout(timer);
    await conn?.close().catch(() => undefined);
  }
}

/** The arguments the SDK's createLocal passes, plus our search attributes and a persistent db. */
export function devServerArgs(p: { port: number; uiPort: number; db: string }): string[] {
  return [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(p.port),
    '--ui-port', String(p.uiPort),
    '--namespace', EMBEDDED_NAMESPACE,
    '--db-filename', p.db,
    '--log-format', 'pretty',
    '--log-level', 'warn',
    '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    ...SEARCH_ATTRIBUTE_NAMES.flatMap((n) => ['--search-attribute', `${n}=Keyword`]),
  ];
}

/** What one start-up attempt wrote to the log: the bytes from `from` on. */
function attemptOutput(file: string, from: number): string {
  try {
    return fs.readFileSync(file).subarray(from).toString('utf8').trimEnd();
  } catch {
    return '';
  }
}

/**
 * The end of an attempt's output for an error message, and the line that says what went wrong
 * when the end does not hold it: a Go panic prints its message, then a stack longer than the tail.
 */
function failureSummary(output: string, lines = 15): string {
  const all = output.split('\n');
  const tail = all.slice(-lines);
  const cause = all.slice(0, -lines).find((l) => /^(panic|fatal error|error):/i.test(l.trim()));
  return (cause ? [cause, '...', ...tail] : tail).join('\n');
}

async function startServer(paths: EmbeddedServerPaths, env: Record<string, string | undefined>, timeoutMs: number): Promise<EmbeddedServerInfo> {
  const binary = temporalCliPath(env);
  try {
    if (fs.statSync(paths.log).size > LOG_ROTATE_BYTES) fs.renameSync(paths.log, `${paths.log}.1`);
  } catch {
    /* no log yet */
  }
  let lastError = '';
  // A free port can be taken between our probe and the server's bind: try again with new ones.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    let uiPort = await freePort();
    while (uiPort === port) uiPort = await freePort();
    const logFd = fs.openSync(paths.log, 'a', 0o600);
    fs.writeSync(logFd, `--- ${new Date().toISOString()} starting ${binary} (port ${port}, UI port ${uiPort}) for process ${process.pid}\n`);
    const attemptFrom = fs.fstatSync(logFd).size;
    const child = spawn(binary, devServerArgs({ port, uiPort, db: paths.db }), {
      cwd: paths.dir,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: env as NodeJS.ProcessEnv,
    });
    fs.closeSync(logFd);
    let exited: string | undefined;
    child.on('exit', (code, sig) => (exited = sig ? `signal ${sig}` : `exit code ${code}`));
    child.on('error', (e) => (exited = e.message));
    child.unref();
    const pid = child.pid;
    const deadline = Date.now() + timeoutMs;
    let ready = false;
    while (!ready && exited === undefined && Date.now() < deadline) {
      ready = await answers(port, 1000);
      if (!ready) await sleep(100);
    }
    if (ready && exited === undefined && pid !== undefined) {
      const info: EmbeddedServerInfo = {
        pid,
        procStart: processStartTime(pid),
        port,
        uiPort,
        startedAt: new Date().toISOString(),
        binary,
      };
      const tmp = `${paths.serverJson}.tmp.${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
      fs.renameSync(tmp, paths.serverJson);
      return info;
    }
    if (exited === undefined) {
      if (pid !== undefined) await terminateProcess({ pid }, 2000);
      throw new CliError(
        `the embedded Temporal server did not accept connections within ${Math.round(timeoutMs / 1000)} s; ` +
          `see its log "${paths.log}", or set TEMPORAL_ADDRESS to use a running Temporal server`,
      );
    }
    lastError = `${exited}`;
    // The whole attempt, not its tail: a port taken meanwhile, or one the dev server failed to get
    // for its inner services (devserver.MustGetFreePort), makes it panic, and the stack it prints
    // pushes the message out of any tail. Both are worth another try with other ports.
    const output = attemptOutput(paths.log, attemptFrom);
    if (!/address already in use|failed assigning ephemeral port/i.test(output)) {
      throw new CliError(
        `the embedded Temporal server "${binary}" exited during start-up (${lastError}); see its log "${paths.log}"` +
          (output ? `:\n${failureSummary(output)}` : ''),
      );
    }
  }
  throw new CliError(`cannot start the embedded Temporal server: no free port (${lastError}); see its log "${paths.log}"`);
}
