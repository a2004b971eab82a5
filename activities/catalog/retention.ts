/**
 * The catalog side of retention (workflows/retention.ts): read the instance's backups and policy
 * and plan with core/retention.ts; and which of the backups it would merge or delete a running
 * workflow uses, so that those are skipped (pg_probackup skips a backup it cannot lock).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { findBackupUsers } from '../../client/backupUsers';
import { backupIdToTime } from '../../core/backupId';
import { chainNode } from '../../core/chain';
import { catalogPaths } from '../../core/catalogPaths';
import { archiveTimelines } from '../../core/archiveTimelines';
import type { BackupControl } from '../../core/backupControl';
import { parseInstanceConfig, withDefaults } from '../../core/instanceConfig';
import { resolveMergeTarget } from '../../core/mergePlan';
import { planRetention, retentionIsSet, type RetentionNode, type RetentionPlan, type RetentionPolicy } from '../../core/retention';
import { formatLocalTime } from '../../core/timestamps';
import { DEFAULT_XLOG_SEG_SIZE, type BackupStatus } from '../../core/types';
import { planWalPurge } from '../../core/walPurge';
import { listArchive } from '../archive/walArchive';
import { fsyncDir } from '../atomicWrite';
import type { MergeRequest } from '../../workflows/merge';
import { existingBackupIds, readBackupControl } from './backupCatalog';

export interface RetentionPlanInput {
  backupPath: string;
  instance: string;
  /** Command-line values over pg_probackup.conf's. */
  redundancy?: number;
  windowDays?: number;
  /** Unix seconds: the workflow's clock. */
  now: number;
  mergeExpired: boolean;
  deleteExpired: boolean;
  threads: number;
  noValidate: boolean;
  noSync: boolean;
}

export interface PlannedRetention extends Omit<RetentionPlan, 'merges' | 'purge'> {
  policy: RetentionPolicy;
  backupCount: number;
  merges: MergeRequest[];
  /** Newest first; `recoveryTime` as pg_probackup prints it. */
  purge: { id: string; dir: string; recoveryTime: string; status: BackupStatus }[];
}

async function instancePolicy(input: RetentionPlanInput): Promise<RetentionPolicy> {
  const file = catalogPaths.instanceConfig(input.backupPath, input.instance);
  const values = withDefaults(parseInstanceConfig(await fs.readFile(file, 'utf8'), file));
  return {
    redundancy: input.redundancy ?? Number(values['retention-redundancy'] ?? 0),
    windowDays: input.windowDays ?? Number(values['retention-window'] ?? 0),
  };
}

/** The instance's backups, newest first; an unreadable backup.control makes an UNKNOWN backup. */
async function readNodes(backupPath: string, instance: string): Promise<(RetentionNode & { dir: string })[]> {
  const instDir = catalogPaths.instanceDir(backupPath, instance);
  const out: (RetentionNode & { dir: string })[] = [];
  for (const id of await existingBackupIds(instDir)) {
    const dir = path.join(instDir, id);
    const c = await readBackupControl({ backupDir: dir }).catch(() => null);
    out.push({
      ...chainNode(id, c),
      dir,
      recoveryTime: c?.recoveryTime ?? 0,
      startTime: c?.startTime ?? backupIdToTime(id)!,
      expireTime: c?.expireTime ?? 0,
    });
  }
  return out.sort((a, b) => b.startTime - a.startTime);
}

export async function planInstanceRetention(input: RetentionPlanInput): Promise<PlannedRetention> {
  const policy = await instancePolicy(input);
  const nodes = await readNodes(input.backupPath, input.instance);
  const base = { policy, backupCount: nodes.length, lines: [], expired: [], kept: [], merges: [], purge: [] };
  if (!(input.mergeExpired || input.deleteExpired) || !retentionIsSet(policy) || nodes.length === 0) return base;
  const plan = planRetention(nodes, policy, input.now, input);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const dirOf = (id: string) => byId.get(id)?.dir ?? path.join(catalogPaths.instanceDir(input.backupPath, input.instance), id);
  const merges: MergeRequest[] = [];
  for (const m of plan.merges) {
    const target = resolveMergeTarget(nodes, m.destId);
    if (!target.ok) {
      plan.lines.push({ level: 'WARNING', text: `Cannot merge backup ${m.destId}: ${target.error}` });
      continue;
    }
    merges.push({
      backupPath: input.backupPath,
      instance: input.instance,
      backupId: target.destId,
      fullId: target.fullId,
      fullDir: dirOf(target.fullId),
      incrementals: target.incrementals.map((i) => ({ id: i, dir: dirOf(i) })),
      backups: [target.fullId, ...target.incrementals].map((i) => ({ id: i })),
      state: target.state,
      threads: input.threads,
      noValidate: input.noValidate,
      noSync: input.noSync,
    });
  }
  const purge = plan.purge.map((id) => {
    const n = byId.get(id)!;
    return { id, dir: n.dir, recoveryTime: formatLocalTime(n.recoveryTime || n.startTime), status: n.status };
  });
  return { ...plan, policy, backupCount: nodes.length, merges, purge };
}

/**
 * Which of `ids` a running workflow other than this one uses (client/backupUsers.ts, asked through
 * the worker's own client), each with the first such workflow. `running` are those whose status is
 * RUNNING.
 */
export async function backupsInUse(input: { instance: string; ids: string[]; running: string[] }): Promise<{ id: string; workflowId: string }[]> {
  const ctx = Context.current();
  const self = ctx.info.workflowExecution?.workflowId;
  const out: { id: string; workflowId: string }[] = [];
  for (const id of input.ids) {
    const running = input.running.includes(id) ? [id] : [];
    const users = (await findBackupUsers(ctx.client, input.instance, [id], running)).filter((u) => u.workflowId !== self);
    if (users.length > 0) out.push({ id, workflowId: users[0].workflowId });
    ctx.heartbeat(id);
  }
  return out;
}

/**
 * --delete-wal: deletes what core/walPurge.ts says of the instance's WAL archive, given the
 * backups the catalog holds now (after retention deleted its own). Its lines, in pg_probackup's
 * words; `removable`: the files the plan removes, `deleted`: those removed (none on a dry run);
 * `skipped` when wal-depth asks for what is not built. Idempotent: a file already gone is no error.
 */
export async function purgeWalArchive(input: {
  backupPath: string;
  instance: string;
  dryRun: boolean;
  /** Over pg_probackup.conf's wal-depth. */
  walDepth?: number;
}): Promise<{ lines: { level: 'INFO' | 'WARNING'; text: string }[]; removable: number; deleted: number; skipped?: boolean }> {
  const file = catalogPaths.instanceConfig(input.backupPath, input.instance);
  const values = withDefaults(parseInstanceConfig(await fs.readFile(file, 'utf8'), file));
  const walDepth = input.walDepth ?? Number(values['wal-depth'] ?? 0);
  if (walDepth > 0) {
    return {
      lines: [{ level: 'WARNING', text: `WAL purge with wal-depth ${walDepth} is not implemented yet: the WAL archive of instance ${input.instance} is kept` }],
      removable: 0,
      deleted: 0,
      skipped: true,
    };
  }
  const segSize = Number(values['xlog-seg-size'] ?? DEFAULT_XLOG_SEG_SIZE);
  const archiveDir = catalogPaths.instanceWalDir(input.backupPath, input.instance);
  const { files, histories } = await listArchive(archiveDir);
  const instDir = catalogPaths.instanceDir(input.backupPath, input.instance);
  const controls: BackupControl[] = [];
  for (const id of await existingBackupIds(instDir)) {
    const c = await readBackupControl({ backupDir: path.join(instDir, id) }).catch(() => null);
    if (c) controls.push(c);
  }
  const warnings: string[] = [];
  const plan = planWalPurge(archiveTimelines(files, histories, segSize, controls, (m) => warnings.push(m)), segSize, input.dryRun);
  const lines = [...warnings.map((text) => ({ level: 'WARNING' as const, text })), ...plan.lines.map((text) => ({ level: 'INFO' as const, text }))];
  if (input.dryRun) return { lines, removable: plan.remove.length, deleted: 0 };
  for (const name of plan.remove) await fs.rm(path.join(archiveDir, name), { force: true });
  if (plan.remove.length > 0) await fsyncDir(archiveDir);
  return { lines, removable: plan.remove.length, deleted: plan.remove.length };
}
