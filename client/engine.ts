/**
 * The bridge from a validated command line to a workflow: builds the workflow's one JSON argument,
 * connects to Temporal (embedded or TEMPORAL_ADDRESS), runs the workflow and returns its result.
 * Command handlers stay free of Temporal details.
 */
import type { Writable } from 'node:stream';
import { connectTemporal } from './temporal/connection';
import { runWorkflow } from './temporal/runWorkflow';
import { workflowIds } from '../core/workflowIds';
import type { BackupRequest, BackupResult } from '../core/requests';

export interface EngineIo {
  stderr: Writable;
  progress: boolean;
  threads: number;
}

export async function runBackupWorkflow(req: BackupRequest, io: EngineIo): Promise<BackupResult> {
  const ctx = await connectTemporal({ backupPath: req.backupPath });
  try {
    return await runWorkflow<BackupResult>({
      ctx,
      workflowType: 'backupWorkflow',
      workflowId: workflowIds.backup(req.instance),
      args: [req],
      searchAttributes: { BackupInstance: req.instance, BackupOperation: 'backup' },
      showProgress: io.progress,
      threads: io.threads,
      out: { stderr: io.stderr },
    });
  } finally {
    await ctx.close();
  }
}
