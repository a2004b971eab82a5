import * as os from 'node:os';
import * as fs from 'node:fs/promises';
import { writeFileAtomic } from '../../activities/atomicWrite';
import { parseBackupControl, serializeBackupControl, type BackupControl } from '../../core/backupControl';
import { catalogPaths } from '../../core/catalogPaths';
import { prettySize } from '../../core/show';
import { workflowIds } from '../../core/workflowIds';
import type { DeleteRequest, DeleteResult } from '../../workflows/delete';
import { findBackupUsers, refuseIfUsed } from '../backupUsers';
import { listBackups, type ListedBackup } from '../backupList';
import type { CommandContext } from '../context';
import { CliError, NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { DeleteOptions } from '../options/commands';
import { connectTemporal } from '../temporal/connection';
import { runWorkflow } from '../temporal/runWorkflow';
import { formatLocalTimestamp } from '../timeFormat';
import { workflowLogSink } from '../workflowLog';

/**
 * delete -i ID (spec §10): the backup and its descendants, newest first, by the delete workflow.
 * Refused, before anything changes, when a running workflow uses one of them: a backup writing it,
 * a restore, validate or merge reading it. Retention (--delete-expired, --merge-expired,
 * --delete-wal) and --status are not built yet.
 */
export async function deleteCommand(opts: DeleteOptions, ctx: CommandContext): Promise<number> {
  await openInstance(opts, ctx);
  if (opts.deleteExpired || opts.mergeExpired || opts.deleteWal) throw new NotImplementedError('delete by retention policy (--delete-expired, --merge-expired, --delete-wal)');
  if (opts.status !== undefined) throw new NotImplementedError('delete --status');
  const { backupPath, instance } = opts;
  const id = String(opts.backupId).toUpperCase();
  const all = await listBackups(backupPath, instance, ctx.logger);
  const target = all.find((b) => b.id === id);
  if (!target) throw new CliError(`Failed to find backup ${id}, cannot delete: see "gs_probackup show --instance=${instance}" for its backups`);
  const doomed = withDescendants(target, all);
  const resident = doomed.reduce((s, b) => s + (b.control?.dataBytes ?? 0) + (b.control?.walBytes ?? 0), 0);
  ctx.logger.info(`Resident data size to free by delete of backup ${id} : ${prettySize(resident)}`);
  if (opts.dryRun) {
    for (const b of doomed) ctx.logger.info(`Backup ${b.id}, mode: ${b.control?.backupMode.toUpperCase() ?? 'UNKNOWN'}, status: ${b.control?.status ?? 'UNKNOWN'} can be deleted`);
    return 0;
  }

  const tctx = await connectTemporal({ backupPath, env: ctx.env });
  try {
    const ids = doomed.map((b) => b.id as string);
    const running = doomed.filter((b) => b.control?.status === 'RUNNING').map((b) => b.id as string);
    await refuseIfUsed(tctx, `delete backup ${id}`, await findBackupUsers(tctx.client, instance, ids, running));
    // DELETING first, then look again: a restore or validate that starts from now on refuses the
    // backup, and one that started before the mark is running and seen by the second look.
    const before = new Map<string, BackupControl>();
    for (const b of doomed) {
      if (!b.control) continue;
      before.set(b.dir, b.control);
      await writeControl(b.dir, { ...b.control, status: 'DELETING' });
    }
    const late = await findBackupUsers(tctx.client, instance, ids, running);
    if (late.length > 0) {
      for (const [dir, control] of before) {
        const now = await readControl(dir).catch(() => undefined);
        if (now?.status === 'DELETING') await writeControl(dir, control);
      }
      refuseIfUsed(tctx, `delete backup ${id}`, late);
    }
    const req: DeleteRequest = {
      backupPath,
      instance,
      backups: doomed.map((b) => ({ id: b.id, dir: b.dir, recoveryTime: formatLocalTimestamp(b.control?.recoveryTime || b.control?.startTime || 0) })),
    };
    await runWorkflow<DeleteResult>({
      ctx: tctx,
      workflowType: 'deleteWorkflow',
      workflowId: workflowIds.delete(instance),
      args: [req],
      searchAttributes: { BackupInstance: instance, BackupOperation: 'delete', BackupId: id },
      memo: { backupPath, instance, startedBy: { host: os.hostname(), pid: process.pid } },
      showProgress: opts.progress ?? false,
      threads: 1,
      out: { stderr: ctx.stderr },
      onLog: workflowLogSink(ctx.logger),
    });
  } finally {
    await tctx.close();
  }
  return 0;
}

/** The backup and every backup whose parent chain leads to it, newest first (children before parents). */
function withDescendants(target: ListedBackup, all: ListedBackup[]): ListedBackup[] {
  const chosen = new Set<string>([target.id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const b of all) {
      const parent = b.control?.parentBackupId;
      if (parent && chosen.has(parent) && !chosen.has(b.id)) {
        chosen.add(b.id);
        grew = true;
      }
    }
  }
  return all.filter((b) => chosen.has(b.id)); // listBackups is newest first
}

async function readControl(dir: string): Promise<BackupControl> {
  const file = catalogPaths.backupControl(dir);
  return parseBackupControl(await fs.readFile(file, 'utf8'), file);
}

async function writeControl(dir: string, control: BackupControl): Promise<void> {
  await writeFileAtomic(catalogPaths.backupControl(dir), serializeBackupControl(control), { mode: 0o600 });
}
