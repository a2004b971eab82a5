/**
 * Smoke test of the foundation: the real Temporal dev server of this jest run, a real worker from
 * the prebuilt workflow bundle, one trivial workflow with one activity, and a clean shutdown.
 */
import { connectTemporal } from '../../client/temporal/connection';
import { createBackupWorker } from '../../workers/worker';

jest.setTimeout(60_000);

// The CLI's in-process worker runs workflows on its main thread; `gs_probackup worker`, which may
// run many, in the SDK's workflow thread. Both keep the SDK's 5 s deadlock detection.
test.each([
  ['gs_probackup worker', false, 'ThreadedVMWorkflowCreator'],
  ["the CLI's embedded worker", true, 'ReusableVMWorkflowCreator'],
])('pingWorkflow runs its activity on a real worker (%s) and the worker shuts down cleanly', async (_name, embedded, creator) => {
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest.config.js');
  const taskQueue = `ping-${process.pid}-${Date.now()}`;
  const ctx = await connectTemporal({ env: { TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue } });
  const worker = await createBackupWorker({ nativeConnection: ctx.nativeConnection, namespace: ctx.namespace, taskQueue, maxConcurrentActivities: 1, embedded });
  expect((worker as unknown as { workflowCreator: object }).workflowCreator.constructor.name).toBe(creator);
  expect(worker.options.isolateExecutionTimeoutMs).toBe(5000);
  const running = worker.run();
  try {
    const result = await ctx.client.workflow.execute('pingWorkflow', { taskQueue, workflowId: `ping-${taskQueue}`, args: [{ message: 'hello' }] });
    expect(result).toMatch(new RegExp(`^pong: hello from .* pid ${process.pid}$`));
    const history = await ctx.client.workflow.getHandle(`ping-${taskQueue}`).fetchHistory();
    const types = (history.events ?? []).map((e) => String(e.eventType));
    expect(types.some((t) => /ACTIVITY_TASK_COMPLETED|7/.test(t))).toBe(true);
  } finally {
    worker.shutdown();
    await running;
    await ctx.close();
  }
  expect(worker.getState()).toBe('STOPPED');
});
