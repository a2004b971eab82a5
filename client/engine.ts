/**
 * The bridge from a validated command line to a workflow: connects to Temporal (embedded or
 * TEMPORAL_ADDRESS), runs the workflow under its exclusive ID and returns its result. A workflow
 * left running by a killed CLI is followed instead of refused. Command handlers stay free of
 * Temporal details.
 */
import * as os from 'node:os';
import { connectTemporal, type TemporalContext } from './temporal/connection';
import { runWorkflow } from './temporal/runWorkflow';
import type { TextSink } from './temporal/progressView';
import { pathKey, workflowIds } from '../core/workflowIds';
import type { BackupRequest, BackupResult, RestoreRequest, RestoreResult } from '../core/requests';
import type { MergeRequest, MergeResult } from '../workflows/merge';
import type { RetentionRequest, RetentionResult } from '../workflows/retention';

export interface EngineIo {
  stderr: TextSink;
  progress: boolean;
  threads: number;
  env?: Record<string, string | undefined>;
  onLog?: (line: string) => void;
}

/**
 * A running workflow whose starting CLI died on this host has nobody following it: re-running the
 * command takes it over and finishes it. One started by a live process, or elsewhere, is a
 * concurrent operation and is refused.
 */
export function orphaned(memo: Record<string, unknown> | undefined): boolean {
  const by = memo?.startedBy as { host?: string; pid?: number } | undefined;
  if (!by || by.host !== os.hostname() || typeof by.pid !== 'number') return false;
  try {
    process.kill(by.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function run<T>(
  backupPath: string,
  io: EngineIo,
  spec: {
    workflowType: string;
    workflowId: string;
    arg: object;
    instance: string;
    operation: string;
    backupId?: string;
    /** Checks against running workflows before this one starts (a refusal throws). */
    beforeStart?: (ctx: TemporalContext) => Promise<void>;
  },
): Promise<T> {
  const ctx = await connectTemporal({ backupPath, env: io.env });
  try {
    await spec.beforeStart?.(ctx);
    return await runWorkflow<T>({
      ctx,
      workflowType: spec.workflowType,
      workflowId: spec.workflowId,
      args: [spec.arg],
      searchAttributes: { BackupInstance: spec.instance, BackupOperation: spec.operation, ...(spec.backupId ? { BackupId: spec.backupId } : {}) },
      memo: { backupPath, instance: spec.instance, startedBy: { host: os.hostname(), pid: process.pid } },
      attachIfRunning: orphaned,
      showProgress: io.progress,
      threads: io.threads,
      out: { stderr: io.stderr },
      onLog: io.onLog,
    });
  } finally {
    await ctx.close();
  }
}

export function runBackupWorkflow(req: BackupRequest, io: EngineIo): Promise<BackupResult> {
  return run<BackupResult>(req.backupPath, io, {
    workflowType: 'backupWorkflow',
    workflowId: workflowIds.backup(req.instance),
    arg: req,
    instance: req.instance,
    operation: 'backup',
  });
}

export function runRestoreWorkflow(req: RestoreRequest, io: EngineIo, beforeStart?: (ctx: TemporalContext) => Promise<void>): Promise<RestoreResult> {
  return run<RestoreResult>(req.backupPath, io, {
    workflowType: 'restoreWorkflow',
    workflowId: workflowIds.restore(req.instance, pathKey(req.pgdata)),
    arg: req,
    instance: req.instance,
    operation: 'restore',
    backupId: req.backupId,
    beforeStart,
  });
}

export function runMergeWorkflow(req: MergeRequest, io: EngineIo, beforeStart?: (ctx: TemporalContext) => Promise<void>): Promise<MergeResult> {
  return run<MergeResult>(req.backupPath, io, {
    workflowType: 'mergeWorkflow',
    workflowId: workflowIds.merge(req.instance, req.backupId),
    arg: req,
    instance: req.instance,
    operation: 'merge',
    backupId: req.backupId,
    beforeStart,
  });
}

/** delete --delete-expired / --merge-expired: shares delete -i's ID, one delete of an instance at a time. */
export function runRetentionWorkflow(req: RetentionRequest, io: EngineIo): Promise<RetentionResult> {
  return run<RetentionResult>(req.backupPath, io, {
    workflowType: 'retentionWorkflow',
    workflowId: workflowIds.delete(req.instance),
    arg: req,
    instance: req.instance,
    operation: 'delete',
  });
}
