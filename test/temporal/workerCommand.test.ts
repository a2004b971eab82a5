/**
 * `gs_probackup worker -B PATH` in embedded mode: a workflow left pending by a CLI that went away
 * is finished by the worker, which keeps the catalog's server up while it runs and stops it when
 * it leaves. Also the remote mode against the test server.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectTemporal } from '../../client/temporal/connection';
import { embeddedServerPaths, readServerInfo, stopEmbeddedServer } from '../../client/temporal/embeddedServer';
import { isProcessAlive } from '../../client/temporal/processes';
import { parseWorkerArgs } from '../../workers/main';
import { runWorkerCommand } from '../../workers/workerCommand';

jest.setTimeout(90_000);

const catalogs: string[] = [];
afterAll(async () => {
  for (const c of catalogs) {
    await stopEmbeddedServer(c).catch(() => undefined);
    fs.rmSync(c, { recursive: true, force: true });
  }
});

function capture() {
  const chunks: string[] = [];
  return { write: (t: string) => chunks.push(t), text: () => chunks.join('') };
}

test('the embedded worker finishes a workflow a vanished CLI left pending, then stops the server', async () => {
  const catalog = fs.mkdtempSync(path.join(os.tmpdir(), 'h5-worker-'));
  catalogs.push(catalog);
  const env = { PATH: process.env.PATH, GS_PROBACKUP_SERVER_LINGER: '0' };

  // A "CLI" starts the workflow and disappears before any worker ran it.
  const cli = await connectTemporal({ backupPath: catalog, env });
  const handle = await cli.client.workflow.start('testWaitWorkflow', {
    taskQueue: cli.taskQueue,
    workflowId: 'backup/node',
    args: [{ logLines: ['INFO: pending'], waitMs: 300 }],
  });
  await cli.close();
  expect(readServerInfo(embeddedServerPaths(catalog))).toBeUndefined();

  const err = capture();
  let ready!: (i: { address: string; uiPort?: number }) => void;
  const readyP = new Promise<{ address: string; uiPort?: number }>((r) => (ready = r));
  const workerDone = runWorkerCommand({ backupPath: catalog, threads: 2 }, { env, stderr: err, signals: ['SIGUSR2'], onReady: ready });
  const info = await readyP;
  const server = readServerInfo(embeddedServerPaths(catalog))!;
  expect(info.address).toBe(`127.0.0.1:${server.port}`);
  expect(info.uiPort).toBe(server.uiPort);

  // The workflow survived in temporal.db and the worker completes it.
  const client = await connectTemporal({ backupPath: catalog, env });
  try {
    const r = await client.client.workflow.getHandle('backup/node', handle.firstExecutionRunId).result();
    expect(r).toEqual({ released: false, echo: 'INFO: pending' });
  } finally {
    await client.close();
  }
  expect(isProcessAlive(server)).toBe(true); // the worker keeps it up

  process.emit('SIGUSR2', 'SIGUSR2'); // jest's sandboxed process gets no OS signals; the handler is the same
  await expect(workerDone).resolves.toBe(0);
  expect(isProcessAlive(server)).toBe(false);
  expect(err.text()).toContain(`INFO: worker polls task queue 'gs_probackup' of namespace 'default' on embedded Temporal server 127.0.0.1:${server.port}`);
  expect(err.text()).toContain('INFO: received SIGUSR2: stopping the worker');
  expect(err.text()).toMatch(/INFO: worker stopped\n$/);
});

test('remote mode polls TEMPORAL_ADDRESS on the given task queue', async () => {
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest.config.js');
  const taskQueue = `h5-worker-${process.pid}-${Date.now()}`;
  const err = capture();
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const env = { TEMPORAL_ADDRESS: address };
  const done = runWorkerCommand({ taskQueue, threads: 1 }, { env, stderr: err, signals: ['SIGUSR2'], onReady: () => ready() });
  await readyP;
  const ctx = await connectTemporal({ env: { ...env, TEMPORAL_TASK_QUEUE: taskQueue } });
  try {
    const r = await ctx.client.workflow.execute('testWaitWorkflow', {
      taskQueue,
      workflowId: `validate/remote-${taskQueue}`,
      args: [{ logLines: ['INFO: x'], waitMs: 10 }],
    });
    expect(r).toEqual({ released: false, echo: 'INFO: x' });
  } finally {
    await ctx.close();
  }
  process.emit('SIGUSR2', 'SIGUSR2'); // jest's sandboxed process gets no OS signals; the handler is the same
  await expect(done).resolves.toBe(0);
  expect(err.text()).toContain(`INFO: worker polls task queue '${taskQueue}' of namespace 'default' on Temporal at ${address}`);
});

test('a worker without TEMPORAL_ADDRESS or -B is refused', async () => {
  await expect(runWorkerCommand({ threads: 1 }, { env: {}, stderr: capture() })).rejects.toThrow(
    'worker needs TEMPORAL_ADDRESS, or -B/--backup-path to run the embedded server of that catalog',
  );
});

test('standalone entry arguments', () => {
  expect(parseWorkerArgs(['-B', '/b', '-j', '4', '--task-queue=q'], {})).toEqual({ backupPath: '/b', threads: 4, taskQueue: 'q' });
  expect(parseWorkerArgs([], { BACKUP_PATH: '/c', WORKER_THREADS: '3' })).toEqual({ backupPath: '/c', threads: 3 });
  expect(() => parseWorkerArgs(['-j', '0'], {})).toThrow('invalid value "0" for -j: expected an integer from 1 to 1000');
  expect(() => parseWorkerArgs(['--bogus'], {})).toThrow(/unknown option "--bogus"/);
});
