/**
 * What every workflow-backed command does: start the workflow under its exclusive ID, follow it
 * (log lines, --progress) until it closes, and turn its outcome into a result or one error line.
 * In embedded mode the CLI itself is the worker for the command's duration; in remote mode the
 * workers are elsewhere and the CLI is only a client.
 */
import * as path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
} from '@temporalio/common';
import { describeRunningOperation } from '../../core/workflowIds';
import { progressQuery, type Progress } from '../../workflows/progress';
import { createBackupWorker, prestartFileThreads } from '../../workers/worker';
import { CliError } from '../errors';
import type { TemporalContext } from './connection';
import { ProgressView, type TextSink } from './progressView';
import { toSearchAttributePairs, type SearchAttributeValues } from './searchAttributes';

export interface FollowOptions {
  ctx: TemporalContext;
  showProgress: boolean;
  /** -j: sizes the in-process worker's activity slots in embedded mode. */
  threads: number;
  out: { stderr: TextSink };
  /** Receives the workflow's log lines instead of stderr (so the CLI logger can filter and file them). */
  onLog?: (line: string) => void;
  /** Progress query interval (default 1 s). */
  pollIntervalMs?: number;
  /** After Ctrl-C, how long to wait for the cancelled workflow to close (default 30 s). */
  cancelWaitMs?: number;
  /** Signals that cancel the workflow (default SIGINT, SIGTERM). */
  signals?: NodeJS.Signals[];
  /** The embedded worker runs already (set internally when runWorkflow attaches). */
  workerRunning?: boolean;
}

export interface RunWorkflowOptions extends FollowOptions {
  workflowType: string;
  workflowId: string;
  /** One object: the Web UI's start form takes a single JSON value. */
  args: [object];
  searchAttributes: Pick<SearchAttributeValues, 'BackupInstance' | 'BackupId' | 'BackupOperation'>;
  memo?: Record<string, unknown>;
  /**
   * When a workflow of the same type already runs under this ID, follow it to its end instead of
   * failing — always (true), or when this predicate of its memo says so (e.g. the CLI that
   * started it was killed, so nobody else is following it).
   */
  attachIfRunning?: boolean | ((memo: Record<string, unknown> | undefined) => boolean);
}

export interface AttachOptions extends FollowOptions {
  workflowId: string;
  /** Default: the latest run. */
  runId?: string;
}

/** Another run holds the workflow ID. */
export class WorkflowConflictError extends CliError {
  constructor(message: string, readonly workflowId: string, readonly runId: string | undefined) {
    super(message);
    this.name = 'WorkflowConflictError';
  }
}

/** The workflow closed without a result; the message is the root cause's. */
export class WorkflowRunError extends CliError {
  constructor(
    message: string,
    readonly workflowId: string,
    readonly runId: string | undefined,
    /** ApplicationFailure type of the root cause, when there is one. */
    readonly failureType?: string,
  ) {
    super(message);
    this.name = 'WorkflowRunError';
  }
}

export class InterruptedError extends CliError {
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}

export async function runWorkflow<T>(o: RunWorkflowOptions): Promise<T> {
  // In embedded mode the worker polls before the workflow starts: a first task that finds no
  // poller waits in the server's backlog (seconds), one that finds a poller is handed over at once.
  return withEmbeddedWorker(o, () => startAndFollow<T>(o));
}

/** Runs `fn` with the CLI's in-process worker up (embedded mode), or just runs it (remote mode). */
async function withEmbeddedWorker<T>(o: FollowOptions, fn: () => Promise<T>): Promise<T> {
  const { ctx } = o;
  if (ctx.mode !== 'embedded' || o.workerRunning) return fn();
  const worker = await createBackupWorker({
    nativeConnection: ctx.nativeConnection,
    namespace: ctx.namespace,
    taskQueue: ctx.taskQueue,
    maxConcurrentActivities: o.threads,
    embedded: true,
  });
  let done: { value: T } | undefined;
  try {
    return await worker.runUntil(async () => {
      const value = await fn();
      done = { value };
      return value;
    });
  } catch (e) {
    // The workflow closed and its outcome is known: a worker that then cannot shut down in time (a
    // superseded attempt stuck on a frozen peer) does not change it. The SDK has logged why.
    if (done) return done.value;
    throw e;
  }
}

async function startAndFollow<T>(o: RunWorkflowOptions): Promise<T> {
  const { ctx } = o;
  try {
    const handle = await ctx.client.workflow.start(o.workflowType, {
      taskQueue: ctx.taskQueue,
      workflowId: o.workflowId,
      args: o.args,
      typedSearchAttributes: toSearchAttributePairs(o.searchAttributes),
      ...(o.memo ? { memo: o.memo } : {}),
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    // Its first activities (checkpoint, listing) wait on PostgreSQL and the disk: time enough.
    if (ctx.mode === 'embedded') prestartFileThreads(o.threads);
    return await follow<T>(handle, handle.firstExecutionRunId, o);
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
  }
  const existing = ctx.client.workflow.getHandle(o.workflowId);
  let runId: string | undefined;
  let status: string | undefined;
  let type: string | undefined;
  let memo: Record<string, unknown> | undefined;
  try {
    const d = await existing.describe();
    runId = d.runId;
    status = d.status.name;
    type = d.type;
    memo = d.memo;
  } catch {
    /* it may have closed meanwhile; the message below still names the ID */
  }
  const attach = typeof o.attachIfRunning === 'function' ? o.attachIfRunning(memo) : o.attachIfRunning;
  if (attach && status === 'RUNNING' && type === o.workflowType && runId) {
    return attachWorkflow<T>({ ...o, runId, workerRunning: true });
  }
  throw new WorkflowConflictError(conflictMessage(ctx, o.workflowId, runId), o.workflowId, runId);
}

/** Follows a workflow someone else started (an earlier, killed CLI; the Web UI; a schedule). */
export async function attachWorkflow<T>(o: AttachOptions): Promise<T> {
  return withEmbeddedWorker(o, () => attachAndFollow<T>(o));
}

async function attachAndFollow<T>(o: AttachOptions): Promise<T> {
  const handle = o.ctx.client.workflow.getHandle(o.workflowId, o.runId);
  let runId = o.runId;
  if (!runId) {
    try {
      runId = (await handle.describe()).runId;
    } catch (e) {
      throw new CliError(`cannot find workflow ${o.workflowId} on Temporal at ${o.ctx.address}: ${(e as Error).message}`);
    }
  }
  const line = `INFO: workflow ${o.workflowId} (run ${runId}) is already running: following it`;
  if (o.onLog) o.onLog(line);
  else o.out.stderr.write(`${line}\n`);
  return follow<T>(handle, runId, o);
}

function conflictMessage(ctx: TemporalContext, workflowId: string, runId: string | undefined): string {
  const addr = ctx.mode === 'embedded' ? `--address ${ctx.address} ` : '';
  let msg =
    `${describeRunningOperation(workflowId)} is running: workflow ${workflowId}` +
    (runId ? ` (run ${runId})` : '') +
    `; wait for it or cancel it with 'temporal workflow cancel ${addr}-w ${workflowId}'`;
  if (ctx.embedded) {
    // Nobody else runs its activities in embedded mode: say how to let it finish.
    msg += `; to let it finish, run 'gs_probackup worker -B ${path.dirname(ctx.embedded.paths.dir)}'`;
  }
  return msg;
}

type Outcome<T> = { kind: 'ok'; value: T } | { kind: 'failed'; error: unknown } | { kind: 'interrupted' };

async function follow<T>(handle: WorkflowHandle, runId: string | undefined, o: FollowOptions): Promise<T> {
  const { ctx } = o;
  const view = new ProgressView({ stderr: o.out.stderr, showProgress: o.showProgress, onLog: o.onLog });
  const pollMs = o.pollIntervalMs ?? 1000;

  const query = async (timeoutMs: number) => {
    try {
      const p = await ctx.client.withDeadline(Date.now() + timeoutMs, () => handle.query(progressQuery));
      if (p && typeof p === 'object') view.update(p as Progress);
    } catch {
      // No worker yet, workflow task not done, or the workflow closed: progress is best effort.
    }
  };

  let finish!: (r: Outcome<T>) => void;
  const settled = new Promise<Outcome<T>>((resolve) => (finish = resolve));
  const result = handle.result() as Promise<T>;
  result.then(
    (value) => finish({ kind: 'ok', value }),
    (error) => finish({ kind: 'failed', error }),
  );

  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) {
      finish({ kind: 'interrupted' });
      return;
    }
    view.clearLine();
    o.out.stderr.write(`INFO: interrupted: cancelling workflow ${handle.workflowId} (press Ctrl-C again to stop waiting)\n`);
    handle.cancel().catch(() => undefined);
    // The workflow closing (cancelled) settles `result`, which ends the wait; this bounds it.
    setTimeout(() => finish({ kind: 'interrupted' }), o.cancelWaitMs ?? 30_000).unref();
  };
  const signals = o.signals ?? ['SIGINT', 'SIGTERM'];
  for (const s of signals) process.on(s, onSignal);

  let polling = true;
  const poller = (async () => {
    while (polling) {
      await query(Math.max(2000, pollMs * 3));
      if (!polling) break;
      await Promise.race([sleepUnref(pollMs), settled]);
    }
  })();

  if (ctx.mode === 'remote') warnIfNoWorkers(ctx, view, () => !polling).catch(() => undefined);

  // The last query runs while the in-process worker is still up, so the final log lines arrive.
  const untilClosed = async (): Promise<Outcome<T>> => {
    const r = await settled;
    polling = false;
    await poller;
    if (r.kind !== 'interrupted') await query(5000);
    return r;
  };

  let outcome: Outcome<T>;
  try {
    outcome = await untilClosed();
  } finally {
    polling = false;
    for (const s of signals) process.removeListener(s, onSignal);
    view.clearLine();
  }
  if (outcome.kind === 'ok') return outcome.value;
  // A failure after Ctrl-C is the cancellation we asked for.
  if (outcome.kind === 'interrupted' || interrupts > 0) throw new InterruptedError();
  throw toRunError(outcome.error, handle.workflowId, runId);
}

const sleepUnref = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

async function warnIfNoWorkers(ctx: TemporalContext, view: ProgressView, closed: () => boolean): Promise<void> {
  await sleepUnref(3000);
  if (closed()) return;
  const r = await ctx.client.withDeadline(Date.now() + 5000, () =>
    ctx.client.workflowService.describeTaskQueue({
      namespace: ctx.namespace,
      taskQueue: { name: ctx.taskQueue },
      taskQueueType: 1 /* TASK_QUEUE_TYPE_WORKFLOW */,
    }),
  );
  if ((r.pollers ?? []).length === 0 && !closed()) {
    view.emit(
      `WARNING: no worker polls task queue '${ctx.taskQueue}' on Temporal at ${ctx.address}: ` +
        `the workflow waits until one starts ('gs_probackup worker -B PATH' with the same TEMPORAL_ADDRESS)`,
    );
  }
}

/** The deepest cause's message: the activity's own error, not the SDK's wrappers. */
export function toRunError(error: unknown, workflowId: string, runId: string | undefined): WorkflowRunError {
  if (!(error instanceof WorkflowFailedError)) {
    return new WorkflowRunError((error as Error)?.message ?? String(error), workflowId, runId);
  }
  const top = error.cause;
  if (top instanceof TerminatedFailure) {
    return new WorkflowRunError(`workflow ${workflowId} was terminated${reason(top.message, 'Workflow execution terminated')}`, workflowId, runId);
  }
  if (top instanceof CancelledFailure) {
    return new WorkflowRunError(`workflow ${workflowId} was cancelled`, workflowId, runId, 'Cancelled');
  }
  if (top instanceof TimeoutFailure) {
    return new WorkflowRunError(`workflow ${workflowId} timed out (${top.timeoutType})`, workflowId, runId, 'Timeout');
  }
  let cur: unknown = top;
  let activity: string | undefined;
  while (cur instanceof ActivityFailure || cur instanceof ChildWorkflowFailure || (cur instanceof ApplicationFailure && cur.cause)) {
    if (cur instanceof ActivityFailure) activity = cur.activityType;
    if (!(cur as Error).cause) break;
    cur = (cur as Error).cause;
  }
  if (cur instanceof ApplicationFailure) {
    return new WorkflowRunError(cur.message || error.message, workflowId, runId, cur.type ?? undefined);
  }
  if (cur instanceof TimeoutFailure) {
    return new WorkflowRunError(
      `${activity ? `activity ${activity}` : `workflow ${workflowId}`} timed out (${cur.timeoutType})`,
      workflowId,
      runId,
      'Timeout',
    );
  }
  if (cur instanceof CancelledFailure) {
    return new WorkflowRunError(`workflow ${workflowId} was cancelled`, workflowId, runId, 'Cancelled');
  }
  return new WorkflowRunError((cur as Error)?.message || error.message, workflowId, runId);
}

function reason(message: string, generic: string): string {
  return message && message !== generic ? `: ${message}` : '';
}
