/**
 * The backup worker: polls one task queue, runs every workflow from the prebuilt bundle and every
 * activity. Used in-process by the CLI in embedded mode and as the long-lived `gs_probackup worker`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Worker, type NativeConnection } from '@temporalio/worker';
import * as activities from '../activities';
import { filePool } from '../activities/threads/pool';
import { CliError } from '../client/errors';
import { workflowBundlePath } from '../client/temporal/installPaths';
import { installRuntime } from './runtime';

export interface BackupWorkerOptions {
  nativeConnection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** -j of the command (or of `gs_probackup worker`): activity slots are sized from it. */
  maxConcurrentActivities: number;
  /** Default: WORKFLOW_BUNDLE_PATH, else <root>/dist/workflow-bundle.js. */
  workflowBundlePath?: string;
  /** Shown in the Web UI's worker list. */
  identity?: string;
  /** The CLI's in-process worker: it shuts down once its command's workflow has closed. */
  embedded?: boolean;
}

/** The backup session activity holds one slot for the whole copy; the copy batches need the rest. */
export function activitySlots(threads: number): number {
  return Math.max(4, Math.floor(threads) + 2);
}

/** The bundle's path; throws the user-facing error when it is missing. */
export function requireWorkflowBundle(explicit?: string): string {
  const codePath = explicit ?? workflowBundlePath();
  if (!fs.existsSync(codePath)) {
    throw new CliError(`workflow bundle "${codePath}" does not exist: run "npm run build", or set WORKFLOW_BUNDLE_PATH to the bundle`);
  }
  return codePath;
}

/**
 * Starts the file threads ahead of the first copy: each loads its modules (a few hundred ms). Best
 * called once the workflow has started, so that on a small host they do not delay the worker.
 */
export function prestartFileThreads(n: number): void {
  filePool().prestart(n);
}

export async function createBackupWorker(opts: BackupWorkerOptions): Promise<Worker> {
  installRuntime();
  const codePath = requireWorkflowBundle(opts.workflowBundlePath);
  const worker = await Worker.create({
    connection: opts.nativeConnection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: { codePath },
    activities,
    identity: opts.identity ?? `${process.pid}@${os.hostname()} gs_probackup`,
    maxConcurrentActivityTaskExecutions: activitySlots(opts.maxConcurrentActivities),
    // A few workflows at a time on a backup host: a small cache keeps memory flat.
    maxCachedWorkflows: 100,
    // After a worker crash its sticky queue is dead; move the next workflow task to the normal queue fast.
    stickyQueueScheduleToStartTimeout: '3s',
    // Cancellation reaches an activity in the reply to its heartbeat: send them often enough that a
    // cancelled backup (Ctrl-C, the Web UI) stops within a second or two, not the default 30 s.
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
    // Running activities get this long to finish before they are cancelled, then shutdown gives up.
    shutdownGraceTime: '5s',
    // The CLI's worker shuts down after its workflow closed: what still runs then is a superseded
    // attempt, not worth holding the command's exit for long.
    shutdownForceTime: opts.embedded ? '10s' : '30s',
    // The CLI's worker runs its one workflow on the main thread, which has the SDK loaded already:
    // the SDK's workflow thread would start Node again and load the SDK a second time (0.4-0.5 s
    // of every command, and 25-35 MB). debugMode is the SDK's switch for that; its other effect,
    // lifting the deadlock timeout, is undone by setting the SDK's default of 5 s again.
    ...(opts.embedded ? { debugMode: true, isolateExecutionTimeout: '5s' } : {}),
  });
  if (opts.embedded) stopWorkflowPromiseHook();
  return worker;
}

/**
 * On the main thread the SDK's promise hook runs for every promise of the process, the activities'
 * too (it compiles a function on each one's creation and settlement to find its workflow): 0.3-0.7 s
 * of CPU in a scale-100 backup. It only feeds the workflow stack-trace query (the Web UI's "Stack
 * Trace" of a running command), which then shows less. The SDK's own uninstall does the same; its
 * globalHandlers are internal, so another SDK layout leaves the hook on: slower, not wrong.
 */
function stopWorkflowPromiseHook(): void {
  try {
    const shared = require('@temporalio/worker/lib/workflow/vm-shared') as { globalHandlers?: { stopPromiseHook?: () => void } };
    shared.globalHandlers?.stopPromiseHook?.();
  } catch {
    /* see above */
  }
}
