/**
 * The embedded dev server's lifecycle against the real `temporal` binary: start under a catalog,
 * reuse, stop when the last user leaves, restart from the same temporal.db after a SIGKILL.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import {
  acquireEmbeddedServer,
  embeddedServerPaths,
  liveUsers,
  readServerInfo,
  stopEmbeddedServer,
} from '../../client/temporal/embeddedServer';
import { temporalCliPath } from '../../client/temporal/installPaths';
import { isProcessAlive, processStartTime } from '../../client/temporal/processes';

jest.setTimeout(120_000);

const roots: string[] = [];
function tempCatalog(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'h5-embedded-'));
  roots.push(d);
  return d;
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

afterAll(async () => {
  for (const d of roots) {
    await stopEmbeddedServer(d).catch(() => undefined);
    fs.rmSync(d, { recursive: true, force: true });
  }
});

async function withClient<T>(address: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await fn(new Client({ connection, namespace: 'default' }));
  } finally {
    await connection.close();
  }
}

test('starts under the catalog, is reused, stops when the last user leaves', async () => {
  const catalog = tempCatalog();
  const paths = embeddedServerPaths(catalog);
  const a = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli' });
  expect(a.reused).toBe(false);
  expect(isProcessAlive(a.server)).toBe(true);
  expect(fs.statSync(paths.dir).mode & 0o777).toBe(0o700);
  expect(fs.existsSync(paths.db)).toBe(true);
  expect(readServerInfo(paths)).toMatchObject({ pid: a.server.pid, port: a.server.port, uiPort: a.server.uiPort });
  // The server is detached from our process group, so a terminal Ctrl-C does not reach it.
  const pgid = Number(fs.readFileSync(`/proc/${a.server.pid}/stat`, 'utf8').split(') ')[1].split(' ')[2]);
  expect(pgid).toBe(a.server.pid);

  // Search attributes are registered.
  await withClient(a.address, async (c) => {
    const r = await c.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(r.customAttributes)).toEqual(expect.arrayContaining(['BackupInstance', 'BackupId', 'BackupOperation', 'BackupStatus']));
  });

  const b = await acquireEmbeddedServer({ backupPath: catalog, role: 'worker' });
  expect(b.reused).toBe(true);
  expect(b.server.pid).toBe(a.server.pid);
  expect(liveUsers(paths)).toHaveLength(2);

  // A user that died without leaving does not keep the server up.
  fs.writeFileSync(path.join(paths.clients, `cli.${deadPid()}.1`), JSON.stringify({ pid: deadPid() }));

  await a.release();
  await a.release(); // idempotent
  expect(isProcessAlive(b.server)).toBe(true);
  await b.release();
  expect(isProcessAlive(b.server)).toBe(false);
  expect(fs.existsSync(paths.serverJson)).toBe(false);
  expect(fs.readdirSync(paths.clients)).toEqual([]);
  expect(fs.existsSync(paths.lock)).toBe(false);
});

test('lingers after the last user leaves, is reused meanwhile, and a detached janitor stops it when idle', async () => {
  const catalog = tempCatalog();
  const paths = embeddedServerPaths(catalog);
  const env = { ...process.env, GS_PROBACKUP_SERVER_LINGER: '3' };
  const a = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli', env });
  const t0 = Date.now();
  await a.release();
  expect(Date.now() - t0).toBeLessThan(1000); // the command does not wait for a stop
  expect(isProcessAlive(a.server)).toBe(true);
  expect(JSON.parse(fs.readFileSync(paths.idle, 'utf8'))).toMatchObject({ pid: a.server.pid });

  // Reused within the linger: no new start; the first janitor then finds a newer idle mark.
  await new Promise((r) => setTimeout(r, 1500));
  const b = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli', env });
  expect(b.reused).toBe(true);
  expect(b.server.pid).toBe(a.server.pid);
  await new Promise((r) => setTimeout(r, 2500)); // past the first janitor's wake-up, b still holds it
  expect(isProcessAlive(b.server)).toBe(true);
  await b.release();
  await new Promise((r) => setTimeout(r, 1500)); // past the first janitor, before the second
  expect(isProcessAlive(b.server)).toBe(true);

  const deadline = Date.now() + 20_000;
  // The janitor holds the lock until it has stopped the server and removed its records.
  const stopping = () => isProcessAlive(b.server) || fs.existsSync(paths.lock) || fs.existsSync(paths.serverJson);
  while (stopping() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(isProcessAlive(b.server)).toBe(false);
  expect(fs.existsSync(paths.serverJson)).toBe(false);
  expect(fs.existsSync(paths.idle)).toBe(false);
  expect(fs.existsSync(paths.lock)).toBe(false);

  // A catalog whose server stopped starts a new one; commands in a row leave one janitor waiting.
  for (let k = 0; k < 3; k++) {
    const c = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli', env });
    expect(c.reused).toBe(k > 0);
    await c.release();
  }
  // A janitor runs in the catalog's .temporal directory; its title may replace its command line.
  const janitors = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readlinkSync(`/proc/${p}/cwd`) === paths.dir && /janitor/i.test(fs.readFileSync(`/proc/${p}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  });
  expect(janitors).toHaveLength(1);
});

test('a catalog removed under a lingering server and made again does not get a second server on its database', async () => {
  const catalog = tempCatalog();
  const env = { ...process.env, GS_PROBACKUP_SERVER_LINGER: '60' };
  const a = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli', env });
  await a.release();
  expect(isProcessAlive(a.server)).toBe(true);
  // The janitor release() started may still be writing its marks in .temporal while rm walks it,
  // as `rm -rf` would race with it too: retry on ENOTEMPTY.
  fs.rmSync(catalog, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  fs.mkdirSync(catalog);
  const b = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli', env });
  expect(b.reused).toBe(false);
  expect(isProcessAlive(a.server)).toBe(false);
  await b.release();
  await stopEmbeddedServer(catalog);
  expect(isProcessAlive(b.server)).toBe(false);
});

test('an invalid GS_PROBACKUP_SERVER_LINGER is refused naming the variable', async () => {
  await expect(acquireEmbeddedServer({ backupPath: tempCatalog(), role: 'cli', env: { ...process.env, GS_PROBACKUP_SERVER_LINGER: '1m' } }))
    .rejects.toThrow(/GS_PROBACKUP_SERVER_LINGER is "1m": give the seconds/);
});

test('concurrent starts share one server', async () => {
  const catalog = tempCatalog();
  const leases = await Promise.all([1, 2, 3].map(() => acquireEmbeddedServer({ backupPath: catalog, role: 'cli' })));
  expect(new Set(leases.map((l) => l.server.pid)).size).toBe(1);
  expect(leases.filter((l) => !l.reused)).toHaveLength(1);
  await Promise.all(leases.map((l) => l.release()));
  expect(isProcessAlive(leases[0].server)).toBe(false);
});

test('waits for a live lock holder (another CLI starting the server) and reclaims the lock when it dies', async () => {
  const catalog = tempCatalog();
  const paths = embeddedServerPaths(catalog);
  fs.mkdirSync(paths.clients, { recursive: true, mode: 0o700 });
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
  fs.writeFileSync(paths.lock, JSON.stringify({ pid: holder.pid, procStart: processStartTime(holder.pid!) }));
  const started = Date.now();
  const pending = acquireEmbeddedServer({ backupPath: catalog, role: 'cli' });
  await new Promise((r) => setTimeout(r, 1500));
  expect(readServerInfo(paths)).toBeUndefined(); // still waiting for the lock
  holder.kill('SIGKILL'); // the holder dies: its lock is stale and is reclaimed
  const lease = await pending;
  expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  expect(isProcessAlive(lease.server)).toBe(true);
  await lease.release();
});

test('a recorded pid that is not our server is never killed', async () => {
  const catalog = tempCatalog();
  const paths = embeddedServerPaths(catalog);
  fs.mkdirSync(paths.clients, { recursive: true, mode: 0o700 });
  const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
  fs.writeFileSync(paths.serverJson, JSON.stringify({ pid: bystander.pid, port: 1, uiPort: 2, startedAt: '', binary: 'x' }));
  const lease = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli' });
  try {
    expect(lease.reused).toBe(false);
    expect(lease.server.pid).not.toBe(bystander.pid);
    expect(isProcessAlive({ pid: bystander.pid! })).toBe(true);
  } finally {
    bystander.kill('SIGKILL');
    await lease.release();
  }
});

test('after a SIGKILL of the server the next user restarts it from the same temporal.db', async () => {
  const catalog = tempCatalog();
  const first = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli' });
  const taskQueue = `h5-nobody-${process.pid}-${Date.now()}`;
  const runId = await withClient(first.address, async (c) => {
    const h = await c.workflow.start('noWorkerRunsThis', { taskQueue, workflowId: 'backup/crashtest', args: [{}] });
    return h.firstExecutionRunId;
  });
  process.kill(first.server.pid, 'SIGKILL');
  for (let i = 0; i < 50 && isProcessAlive(first.server); i++) await new Promise((r) => setTimeout(r, 100));
  expect(isProcessAlive(first.server)).toBe(false);

  const second = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli' });
  try {
    expect(second.reused).toBe(false);
    expect(second.server.pid).not.toBe(first.server.pid);
    const d = await withClient(second.address, (c) => c.workflow.getHandle('backup/crashtest').describe());
    expect(d.runId).toBe(runId);
    expect(d.status.name).toBe('RUNNING');
  } finally {
    await first.release(); // its server is gone; the live second user keeps the new one
    expect(isProcessAlive(second.server)).toBe(true);
    await second.release();
  }
  expect(isProcessAlive(second.server)).toBe(false);
});

test('a server that does not start is reported with its log', async () => {
  const catalog = tempCatalog();
  const fake = path.join(catalog, 'fake-temporal');
  fs.writeFileSync(fake, '#!/bin/sh\necho "bad flag: simulated start-up failure" >&2\nexit 3\n', { mode: 0o755 });
  await expect(acquireEmbeddedServer({ backupPath: catalog, role: 'cli', env: { ...process.env, TEMPORAL_CLI: fake } })).rejects.toThrow(
    /exited during start-up \(exit code 3\); see its log ".*server\.log"[\s\S]*simulated start-up failure/,
  );
  expect(liveUsers(embeddedServerPaths(catalog))).toEqual([]);
});

/** A script that prints a Go panic, its message followed by a stack of 40 frames, and exits 2. */
function goPanic(message: string): string {
  const frames = Array.from({ length: 40 }, (_, i) => `echo "main.frame${i}(...)" >&2; echo "\t/src/frame${i}.go:${i} +0x${i}" >&2`).join('\n');
  return `echo "panic: ${message}" >&2\n${frames}\nexit 2`;
}

test('a start-up that panics over a port (taken meanwhile, or none to be had) is retried, however long its stack', async () => {
  const catalog = tempCatalog();
  const fake = path.join(catalog, 'fake-temporal');
  const tries = path.join(catalog, 'tries');
  // The panics the dev server gives when a port was taken meanwhile, or when it could not get one
  // for its inner services; then the real server.
  fs.writeFileSync(
    fake,
    [
      '#!/bin/sh',
      `echo x >> "${tries}"`,
      `if [ "$(wc -l < "${tries}")" -eq 1 ]; then ${goPanic('listen tcp 127.0.0.1:7243: bind: address already in use')}; fi`,
      `if [ "$(wc -l < "${tries}")" -eq 2 ]; then ${goPanic('failed assigning ephemeral port: listen tcp 127.0.0.1:0: socket: too many open files')}; fi`,
      `exec "${temporalCliPath(process.env)}" "$@"`,
    ].join('\n'),
    { mode: 0o755 },
  );
  const lease = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli', env: { ...process.env, TEMPORAL_CLI: fake } });
  try {
    expect(fs.readFileSync(tries, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(isProcessAlive(lease.server)).toBe(true);
  } finally {
    await lease.release();
  }
});

test('a server that panics at start-up is reported with the panic\'s message, not only its stack', async () => {
  const catalog = tempCatalog();
  const fake = path.join(catalog, 'fake-temporal');
  fs.writeFileSync(fake, `#!/bin/sh\n${goPanic('simulated: cannot open the database')}\n`, { mode: 0o755 });
  await expect(acquireEmbeddedServer({ backupPath: catalog, role: 'cli', env: { ...process.env, TEMPORAL_CLI: fake } })).rejects.toThrow(
    /exited during start-up \(exit code 2\)[\s\S]*panic: simulated: cannot open the database\n\.\.\.\n[\s\S]*frame39/,
  );
});
