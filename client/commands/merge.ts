import * as path from 'node:path';
import { chainNode } from '../../core/chain';
import { resolveMergeTarget } from '../../core/mergePlan';
import { workflowIds } from '../../core/workflowIds';
import type { MergeRequest } from '../../workflows/merge';
import { findBackupUsers, refuseIfUsed } from '../backupUsers';
import { listBackups } from '../backupList';
import type { CommandContext } from '../context';
import { runMergeWorkflow } from '../engine';
import { CliError } from '../errors';
import { openInstance } from '../instance';
import type { MergeOptions } from '../options/commands';
import type { TemporalContext } from '../temporal/connection';
import { workflowLogSink } from '../workflowLog';

/**
 * merge -i ID (spec §9) as the merge workflow: the chain FULL … ID becomes one FULL backup with
 * ID's identity. Which chain ID means (an interrupted merge is resumed, from MERGING or MERGED
 * states, as pg_probackup does), and that no running workflow uses it, is decided here, before
 * anything changes; a merge left running by a killed CLI is followed to its end instead.
 */
export async function mergeCommand(opts: MergeOptions, ctx: CommandContext): Promise<number> {
  await openInstance(opts, ctx);
  const { backupPath, instance } = opts;
  const id = String(opts.backupId).toUpperCase();
  ctx.logger.info('Merge started');
  const io = { stderr: ctx.stderr, progress: opts.progress ?? false, threads: opts.threads ?? 1, env: ctx.env, onLog: workflowLogSink(ctx.logger) };

  const all = await listBackups(backupPath, instance, ctx.logger);
  const target = resolveMergeTarget(all.map((b) => chainNode(b.id, b.control)), id);
  if (!target.ok) {
    // A merge that has given the FULL backup ID's name may still be validating it: a killed CLI's
    // merge is followed to its end rather than judged by the catalog it is changing.
    const merged = all.find((b) => b.id === id)?.control?.mergeTime !== undefined;
    if (!merged) throw new CliError(target.error);
    await runMergeWorkflow({ backupPath, instance, backupId: id } as MergeRequest, io, async (tctx) => {
      if (!(await mergeRunning(tctx, workflowIds.merge(instance, id)))) throw new CliError(target.error);
    });
    return 0;
  }
  for (const w of target.warnings) {
    if (w.startsWith('WARNING: ')) ctx.logger.warning(w.slice(9));
    else ctx.logger.info(w.replace(/^INFO: /, ''));
  }
  const dirOf = (backupId: string) => all.find((b) => b.id === backupId)?.dir ?? path.join(backupPath, 'backups', instance, backupId);
  const chainIds = [target.fullId, ...target.incrementals];
  const req: MergeRequest = {
    backupPath,
    instance,
    backupId: target.destId,
    fullId: target.fullId,
    fullDir: dirOf(target.fullId),
    incrementals: target.incrementals.map((i) => ({ id: i, dir: dirOf(i) })),
    backups: chainIds.map((i) => ({ id: i })),
    state: target.state,
    threads: opts.threads ?? 1,
    noValidate: opts.noValidate ?? false,
    noSync: opts.noSync ?? false,
  };
  const workflowId = workflowIds.merge(instance, target.destId);
  await runMergeWorkflow(req, io, async (tctx) => {
    // A running merge of this very chain is followed (or refused as concurrent) by the start itself.
    const running = all.filter((b) => chainIds.includes(b.id) && b.control?.status === 'RUNNING').map((b) => b.id as string);
    const users = (await findBackupUsers(tctx.client, instance, chainIds, running)).filter((u) => u.workflowId !== workflowId);
    refuseIfUsed(tctx, `merge backup ${target.destId}`, users);
  });
  return 0;
}

async function mergeRunning(tctx: TemporalContext, workflowId: string): Promise<boolean> {
  try {
    return (await tctx.client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch {
    return false;
  }
}
