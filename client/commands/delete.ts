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
import { CliError } from '../errors';
import { openInstance } from '../instance';
import type { DeleteOptions } from '../options/commands';
import { connectTemporal } from '../temporal/connection';
import { runWorkflow } from '../temporal/runWorkflow';
import { formatLocalTimestamp } from '../timeFormat';
import { workflowLogSink } from '../workflowLog';
import { runRetention } from './retention';

/**
 * delete (spec §10). -i ID: the backup and its descendants; --status: every backup with that status
 * and their descendants; both newest first, by the delete workflow, refused before anything
 * changes when a running workflow uses one of them (a backup writing it, a restore, validate or
 * merge reading it). --delete-expired / --merge-expired: the retention workflow
 * (commands/retention.ts); --delete-wal after either.
 */
export async function deleteCommand(opts: DeleteOptions, ctx: CommandContext): Promise<number> {
  const resolved = await openInstance(opts, ctx);
  if (opts.deleteExpired || opts.mergeExpired || (opts.backupId === undefined && opts.status === undefined)) {
    await runRetention(resolved, opts, ctx);
    return 0;
  }
  const { backupPath, instance } = opts;
  const all = await listBackups(backupPath, instance, ctx.logger);
  let doomed: ListedBackup[];
  let what: string;
  let named: string | undefined;
  /** pg_probackup's words for what the size is freed by. */
  let freedBy: string;
  if (opts.status !== undefined) {
    const status = String(opts.status).toUpperCase();
    ctx.logger.info(`Deleting all backups with status '${status}'`);
    const roots = all.filter((b) => (b.control?.status ?? 'UNKNOWN') === status);
    if (roots.length === 0) {
      ctx.logger.info(`There are no backups with status '${status}' in instance '${instance}'`);
      if (opts.deleteWal) await runRetention(resolved, { deleteWal: true }, ctx);
      return 0;
    }
    const chosen = new Set(roots.flatMap((r) => withDescendants(r, all)).map((b) => b.id));
    doomed = all.filter((b) => chosen.has(b.id));
    what = `delete backups with status ${status}`;
    freedBy = `delete of ${doomed.length} backups:`;
  } else {
    const id = String(opts.backupId).toUpperCase();
    const target = all.find((b) => b.id === id);
    if (!target) throw new CliError(`Failed to find backup ${id}, cannot delete: see "gs_probackup show --instance=${instance}" for its backups`);
    doomed = withDescendants(target, all);
    what = `delete backup ${id}`;
    named = id;
    freedBy = `delete of backup ${id} :`;
  }
  const resident = doomed.reduce((s, b) => s + (b.control?.dataBytes ?? 0) + (b.control?.walBytes ?? 0), 0);
  ctx.logger.info(`Resident data size to free by ${freedBy} ${prettySize(resident)}`);
  if (opts.dryRun) {
    for (const b of doomed) ctx.logger.info(`Backup ${b.id}, mode: ${b.control?.backupMode.toUpperCase() ?? 'UNKNOWN'}, status: ${b.control?.status ?? 'UNKNOWN'} can be deleted`);
    return 0;
  }

  const tctx = await connectTemporal({ backupPath, env: ctx.env });
  try {
    const ids = doomed.map((b) => b.id as string);
    const running = doomed.filter((b) => b.control?.status === 'RUNNING').map((b) => b.id as string);
    await refuseIfUsed(tctx, what, await findBackupUsers(tctx.client, instance, ids, running));
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
      refuseIfUsed(tctx, what, late);
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
      searchAttributes: { BackupInstance: instance, BackupOperation: 'delete', ...(named ? { BackupId: named } : {}) },
      memo: { backupPath, instance, startedBy: { host: os.hostname(), pid: process.pid } },
      showProgress: opts.progress ?? false,
      threads: 1,
      out: { stderr: ctx.stderr },
      onLog: workflowLogSink(ctx.logger),
    });
  } finally {
    await tctx.close();
  }
  if (opts.deleteWal) await runRetention(resolved, { deleteWal: true }, ctx);
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
