/**
 * runWorkflow against the real test server (remote mode, TEMPORAL_TEST_ADDRESS) with a real worker
 * from the prebuilt bundle: log lines, results, root-cause errors, ID conflicts, re-attaching, and
 * Ctrl-C cancelling the workflow. Then the same in embedded mode under a temp catalog.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { connectTemporal, type TemporalContext } from '../../client/temporal/connection';
import { readServerInfo, embeddedServerPaths, stopEmbeddedServer } from '../../client/temporal/embeddedServer';
import { isProcessAlive } from '../../client/temporal/processes';
import {
  attachWorkflow,
  InterruptedError,
  runWorkflow,
  WorkflowConflictError,
  WorkflowRunError,
} from '../../client/temporal/runWorkflow';
import { workflowIds } from '../../core/workflowIds';
import { createBackupWorker } from '../../workers/worker';
import type { TestWaitRequest, TestWaitResult } from '../../workflows/testSupport';

jest.setTimeout(90_000);

function testAddress(): string {
  const a = process.env.TEMPORAL_TEST_ADDRESS;
  if (!a) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest.config.js (its globalSetup starts the server)');
  return a;
}

let seq = 0;
const unique = (what: string) => `${what}-${process.pid}-${Date.now().toString(36)}-${++seq}`;

function capture() {
  const chunks: string[] = [];
  return { write: (t: string) => chunks.push(t), text: () => chunks.join('') };
}

describe('remote mode (TEMPORAL_ADDRESS)', () => {
  let ctx: TemporalContext;
  let worker: Worker;
  let running: Promise<void>;

  beforeEach(async () => {
    ctx = await connectTemporal({ env: { TEMPORAL_ADDRESS: testAddress(), TEMPORAL_TASK_QUEUE: unique('h5-q') } });
    expect(ctx.mode).toBe('remote');
    worker = await createBackupWorker({
      nativeConnection: ctx.nativeConnection,
      namespace: ctx.namespace,
      taskQueue: ctx.taskQueue,
      maxConcurrentActivities: 2,
    });
    running = worker.run();
  });

  afterEach(async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await ctx.close();
  });

  const waitRun = (workflowId: string, req: TestWaitRequest, extra: Partial<Parameters<typeof runWorkflow>[0]> = {}) => {
    const err = capture();
    const p = runWorkflow<TestWaitResult>({
      ctx,
      workflowType: 'testWaitWorkflow',
      workflowId,
      args: [req],
      searchAttributes: { BackupInstance: 'inst', BackupOperation: 'test' },
      showProgress: false,
      threads: 1,
      out: { stderr: err },
      pollIntervalMs: 200,
      ...extra,
    });
    return { p, err };
  };

  test('returns the result and prints the workflow log lines once, in order', async () => {
    const { p, err } = waitRun(unique('validate/inst'), { logLines: ['INFO: one', 'INFO: two', 'WARNING: three'], lineIntervalMs: 300, waitMs: 300 });
    const r = await p;
    expect(r).toEqual({ released: false, echo: 'INFO: one|INFO: two|WARNING: three' });
    expect(err.text()).toBe('INFO: one\nINFO: two\nWARNING: three\nINFO: wait timed out\n');
  });

  test('the ping workflow runs through runWorkflow', async () => {
    const err = capture();
    const r = await runWorkflow<unknown>({
      ctx,
      workflowType: 'pingWorkflow',
      workflowId: unique('ping'),
      args: [{ message: 'hello' }],
      searchAttributes: {},
      showProgress: false,
      threads: 1,
      out: { stderr: err },
    });
    expect(JSON.stringify(r)).toContain('hello');
  });

  test('a failed workflow becomes an error with the root cause message and type', async () => {
    const { p } = waitRun(unique('merge/inst'), { waitMs: 10, failWith: 'cannot write "/backup/x": No space left on device' });
    await expect(p).rejects.toThrow(WorkflowRunError);
    await expect(p).rejects.toMatchObject({
      message: 'cannot write "/backup/x": No space left on device',
      failureType: 'TestFailure',
    });
  });

  test('a second start of a running operation fails with a message naming the workflow; attachIfRunning follows it', async () => {
    const instance = unique('node');
    const id = workflowIds.backup(instance);
    const first = waitRun(id, { logLines: ['INFO: first run started'] });
    const handle = ctx.client.workflow.getHandle(id);
    await waitFor(async () => (await handle.describe()).status.name === 'RUNNING');
    const runId = (await handle.describe()).runId;

    const second = waitRun(id, { logLines: ['INFO: second'] });
    await expect(second.p).rejects.toThrow(WorkflowConflictError);
    await expect(second.p).rejects.toThrow(
      `another backup of instance '${instance}' is running: workflow ${id} (run ${runId}); ` +
        `wait for it or cancel it with 'temporal workflow cancel -w ${id}'`,
    );

    const attached = waitRun(id, { logLines: ['INFO: ignored, the running one is followed'] }, { attachIfRunning: true });
    await waitFor(async () => attached.err.text().includes('INFO: first run started'));
    await handle.signal('release');
    const [r1, r3] = await Promise.all([first.p, attached.p]);
    expect(r1).toEqual({ released: true, echo: 'INFO: first run started' });
    expect(r3).toEqual(r1);
    expect(attached.err.text()).toBe(
      `INFO: workflow ${id} (run ${runId}) is already running: following it\nINFO: first run started\nINFO: released\n`,
    );
  });

  test('attachWorkflow follows a run by ID', async () => {
    const id = unique('validate/inst');
    await ctx.client.workflow.start('testWaitWorkflow', { taskQueue: ctx.taskQueue, workflowId: id, args: [{ waitMs: 500 }] });
    const err = capture();
    const r = await attachWorkflow<TestWaitResult>({ ctx, workflowId: id, showProgress: false, threads: 1, out: { stderr: err } });
    expect(r.released).toBe(false);
    expect(err.text()).toMatch(/following it\nINFO: wait timed out\n$/);
  });

  test('a signal cancels the workflow and ends with "interrupted" quickly', async () => {
    const id = unique('backup/inst');
    const lines: string[] = [];
    const { p } = waitRun(id, { logLines: ['INFO: waiting for Ctrl-C'] }, { signals: ['SIGUSR2'], onLog: (l) => lines.push(l) });
    const settled = p.then(
      () => 'resolved',
      (e) => e,
    );
    await waitFor(async () => lines.includes('INFO: waiting for Ctrl-C'));
    const t0 = Date.now();
    process.emit('SIGUSR2', 'SIGUSR2'); // jest's sandboxed process gets no OS signals; the handler is the same
    const e = await settled;
    expect(e).toBeInstanceOf(InterruptedError);
    expect((e as Error).message).toBe('interrupted');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await ctx.client.workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });

  test('--progress on a pipe prints a status line', async () => {
    const err = capture();
    const r = await runWorkflow<TestWaitResult>({
      ctx,
      workflowType: 'testWaitWorkflow',
      workflowId: unique('validate/inst'),
      args: [{ logLines: ['INFO: a', 'INFO: b'], lineIntervalMs: 400, waitMs: 400 }],
      searchAttributes: {},
      showProgress: true,
      threads: 1,
      out: { stderr: err },
      pollIntervalMs: 100,
    });
    expect(r.released).toBe(false);
    expect(err.text()).toMatch(/^INFO: Progress: (starting|waiting), files \d\/2/m);
  });
});

describe('embedded mode', () => {
  const catalogs: string[] = [];
  afterAll(async () => {
    for (const c of catalogs) {
      await stopEmbeddedServer(c).catch(() => undefined);
      fs.rmSync(c, { recursive: true, force: true });
    }
  });

  test('starts the catalog server, runs the workflow in-process, stops the server on close', async () => {
    const catalog = fs.mkdtempSync(path.join(os.tmpdir(), 'h5-embedded-run-'));
    catalogs.push(catalog);
    const ctx = await connectTemporal({ backupPath: catalog, env: { PATH: process.env.PATH, GS_PROBACKUP_SERVER_LINGER: '0' } });
    const server = readServerInfo(embeddedServerPaths(catalog))!;
    try {
      expect(ctx.mode).toBe('embedded');
      expect(ctx.taskQueue).toBe('gs_probackup');
      expect(ctx.address).toBe(`127.0.0.1:${server.port}`);
      const err = capture();
      const r = await runWorkflow<TestWaitResult>({
        ctx,
        workflowType: 'testWaitWorkflow',
        workflowId: workflowIds.backup('node'),
        args: [{ logLines: ['INFO: embedded'], waitMs: 200 }],
        searchAttributes: { BackupInstance: 'node', BackupOperation: 'backup' },
        showProgress: false,
        threads: 1,
        out: { stderr: err },
      });
      expect(r.echo).toBe('INFO: embedded');
      expect(err.text()).toBe('INFO: embedded\nINFO: wait timed out\n');
      const listed = [];
      for await (const w of ctx.client.workflow.list({ query: `BackupInstance = 'node' AND BackupOperation = 'backup'` })) listed.push(w.workflowId);
      expect(listed).toEqual(['backup/node']);
    } finally {
      await ctx.close();
    }
    expect(isProcessAlive(server)).toBe(false);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
