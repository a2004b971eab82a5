import * as path from 'node:path';
import { chainNode, indexById, isValidStatus, scanParentChain } from '../../core/chain';
import { isTargeted } from '../../core/recoveryConf';
import type { RestoreRequest } from '../../core/requests';
import { findBackupUsers, refuseIfUsed } from '../backupUsers';
import { listBackups } from '../backupList';
import { runRestoreWorkflow } from '../engine';
import type { CommandContext } from '../context';
import { CliError } from '../errors';
import { openInstance } from '../instance';
import { launcherPath } from '../temporal/installPaths';
import type { RestoreOptions } from '../options/commands';
import { workflowLogSink } from '../workflowLog';
import type { Logger } from '../logger';

function isoUtc(unixSec: number): string {
  return new Date(unixSec * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '+00');
}

/**
 * pg_probackup's default restore_command for a recovery target: WAL past the backup's end comes
 * from the instance's archive (archive-push), and a file it lacks ends the archive for recovery,
 * which then reads the backup's own pg_wal.
 */
function archiveGetCommand(backupPath: string, instance: string): string {
  return `"${launcherPath()}" archive-get -B "${backupPath}" --instance "${instance}" --wal-file-path=%p --wal-file-name=%f`;
}

/** Restores a backup as the restore workflow (spec §8); refusals happen before anything is written. */
export async function restoreCommand(opts: RestoreOptions, ctx: CommandContext): Promise<number> {
  const resolved = await openInstance(opts, ctx);
  const unsupported: [boolean, string][] = [
    [opts.incrementalMode !== undefined && opts.incrementalMode !== 'none', '-I/--incremental-mode'],
    [!!opts.destroyAllOtherDbs, '--destroy-all-other-dbs (with -I/--incremental-mode)'],
  ];
  for (const [given, what] of unsupported) if (given) throw new CliError(`${what} is not implemented yet`);
  const pgdata = resolved.pgdata;
  if (!pgdata) throw new CliError('no target data directory: give -D/--pgdata (or PGDATA)');
  if (!resolved.systemIdentifier) throw new CliError(`pg_probackup.conf of instance '${resolved.instance}' has no system-identifier: recreate the instance with add-instance`);
  const recovery: NonNullable<RestoreRequest['recovery']> = {};
  if (opts.recoveryTargetTime !== undefined) recovery.targetTime = isoUtc(opts.recoveryTargetTime);
  if (opts.recoveryTargetXid !== undefined) recovery.targetXid = String(opts.recoveryTargetXid);
  if (opts.recoveryTargetLsn !== undefined) recovery.targetLsn = String(opts.recoveryTargetLsn);
  if (opts.recoveryTargetName !== undefined) recovery.targetName = opts.recoveryTargetName;
  if (opts.recoveryTargetInclusive !== undefined) recovery.targetInclusive = opts.recoveryTargetInclusive;
  if (opts.recoveryTargetTimeline !== undefined) recovery.targetTimeline = String(opts.recoveryTargetTimeline);
  if (opts.recoveryTargetAction !== undefined) recovery.targetAction = opts.recoveryTargetAction;
  if (opts.immediate || opts.recoveryTarget === 'immediate') recovery.targetImmediate = true;
  // As pg_probackup: a slot name implies -R; a conninfo without -R has nothing to configure.
  const asReplica = !!opts.restoreAsReplica || opts.primarySlotName !== undefined;
  if (opts.primaryConninfo !== undefined && !asReplica) {
    ctx.logger.warning('--primary-conninfo is ignored without -R/--restore-as-replica');
  }
  const restoreCmd = opts.restoreCommand ?? resolved.restoreCommand ?? (isTargeted(recovery) ? archiveGetCommand(resolved.backupPath, resolved.instance) : undefined);
  if (restoreCmd !== undefined) recovery.restoreCommand = restoreCmd;
  const req: RestoreRequest = {
    backupPath: resolved.backupPath,
    instance: resolved.instance,
    ...(opts.backupId ? { backupId: opts.backupId } : {}),
    pgdata: path.resolve(pgdata),
    systemIdentifier: resolved.systemIdentifier,
    threads: opts.threads ?? 1,
    tablespaceMapping: (opts.tablespaceMapping ?? []).map((m) => ({ old: m.oldDir, new: m.newDir })),
    externalMapping: (opts.externalMapping ?? []).map((m) => ({ old: m.oldDir, new: m.newDir })),
    skipExternalDirs: opts.skipExternalDirs ?? false,
    force: opts.force ?? false,
    noValidate: opts.noValidate ?? false,
    noSync: opts.noSync ?? false,
    skipBlockValidation: opts.skipBlockValidation ?? false,
    // restore has no -t: its batches heartbeat every few MB, so 30 s of silence means a dead worker.
    rwTimeoutSec: 30,
    ...(Object.keys(recovery).length ? { recovery } : {}),
    ...(opts.dbInclude !== undefined ? { partial: { include: opts.dbInclude } } : opts.dbExclude !== undefined ? { partial: { exclude: opts.dbExclude } } : {}),
    ...(asReplica
      ? { replica: { ...(opts.primaryConninfo !== undefined ? { primaryConninfo: opts.primaryConninfo } : {}), ...(opts.primarySlotName !== undefined ? { primarySlotName: opts.primarySlotName } : {}) } }
      : {}),
  };
  await runRestoreWorkflow(req, {
    stderr: ctx.stderr,
    progress: opts.progress ?? false,
    threads: req.threads,
    env: ctx.env,
    onLog: workflowLogSink(ctx.logger),
  }, async (tctx) => {
    // A merge or delete of the chain changes the files the restore would read: refused while one runs.
    const chain = await restoredChain(req, ctx.logger);
    if (chain.length === 0) return;
    const users = (await findBackupUsers(tctx.client, req.instance, chain, [])).filter((u) => u.operation === 'merge' || u.operation === 'delete');
    refuseIfUsed(tctx, `restore backup ${chain[chain.length - 1]}`, users);
  });
  return 0;
}

/** The backups a restore of `req` reads (the backup asked for, or the latest valid one, and its parents). */
async function restoredChain(req: RestoreRequest, logger: Logger): Promise<string[]> {
  const nodes = (await listBackups(req.backupPath, req.instance, logger)).map((b) => chainNode(b.id, b.control));
  const id = req.backupId?.toUpperCase() ?? nodes.find((n) => isValidStatus(n.status))?.id;
  if (!id) return [];
  const scan = scanParentChain(indexById(nodes), id);
  return scan.chain.length ? scan.chain.map((n) => n.id) : [id];
}
