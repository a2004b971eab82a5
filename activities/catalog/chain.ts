/**
 * Catalog reads and writes about incremental chains: the parent of a new incremental backup, the
 * chain a restore, validate or merge works on, and ORPHAN marks. The decisions are core/chain.ts's;
 * these activities read backup.control files and write statuses.
 *
 * Results name the backups they involve in a `backups` list: client/backupUsers.ts finds the
 * backups a running workflow uses in its activity results, so a delete or merge of a chain that a
 * DELTA backup, a restore or a validation is reading is refused.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { backupIdFromTime, backupIdToTime } from '../../core/backupId';
import type { BackupControl } from '../../core/backupControl';
import { catalogPaths } from '../../core/catalogPaths';
import { chainNode, chooseIncrementalParent, findOrphans, indexById, scanParentChain, type ChainNode } from '../../core/chain';
import type { Lsn } from '../../core/lsn';
import { readBackupControl, writeBackupControl } from './backupCatalog';

export interface CatalogBackup {
  node: ChainNode;
  dir: string;
  control: BackupControl | null;
}

/** Every backup of an instance, newest first; the ID is start-time's (the directory name when unreadable). */
export async function readCatalog(backupPath: string, instance: string): Promise<CatalogBackup[]> {
  const instDir = catalogPaths.instanceDir(backupPath, instance);
  const out: { b: CatalogBackup; t: number }[] = [];
  for (const d of await fs.readdir(instDir, { withFileTypes: true })) {
    if (!d.isDirectory() || d.name.startsWith('.') || backupIdToTime(d.name) === null) continue;
    const dir = path.join(instDir, d.name);
    let control: BackupControl | null = null;
    try {
      control = await readBackupControl({ backupDir: dir });
    } catch {
      /* unreadable: UNKNOWN */
    }
    const t = control?.startTime ?? backupIdToTime(d.name)!;
    out.push({ b: { node: chainNode(backupIdFromTime(t), control), dir, control }, t });
  }
  return out.sort((a, b) => b.t - a.t).map((x) => x.b);
}

export interface DeltaParent {
  parentId: string;
  parentDir: string;
  parentStartLsn: Lsn;
  parentTimeline: number;
  /** The parent's chain, FULL first: what the new backup depends on (read by backupUsers). */
  backups: { id: string }[];
  warnings: string[];
}

/** The parent of a new DELTA backup on `timeline` (spec §7.2); refuses, naming why, when there is none. */
export async function chooseDeltaParent(input: { backupPath: string; instance: string; timeline: number }): Promise<DeltaParent> {
  const all = await readCatalog(input.backupPath, input.instance);
  const choice = chooseIncrementalParent(all.map((b) => b.node), input.timeline);
  if (!choice.ok) throw ApplicationFailure.nonRetryable(choice.error, 'NoParentBackup');
  const parent = all.find((b) => b.node.id === choice.parent.id)!;
  return {
    parentId: parent.node.id,
    parentDir: parent.dir,
    parentStartLsn: parent.node.startLsn,
    parentTimeline: parent.node.timeline,
    backups: choice.chain.map((n) => ({ id: n.id })),
    warnings: choice.warnings,
  };
}

export interface ResolvedChain {
  /** FULL first, the backup asked for last (as far as it reaches when broken). */
  backups: { id: string; dir: string; status: string; mode: string }[];
  /** The parent that is missing from the catalog, when the chain is broken. */
  missingId?: string;
}

/** The chain of a backup, without judging statuses (the caller does); missing ⇒ error naming it. */
export async function resolveChain(input: { backupPath: string; instance: string; backupId: string }): Promise<ResolvedChain> {
  const all = await readCatalog(input.backupPath, input.instance);
  const byId = indexById(all.map((b) => b.node));
  if (!byId.has(input.backupId)) {
    throw ApplicationFailure.nonRetryable(`backup ${input.backupId} of instance '${input.instance}' does not exist`, 'BackupNotFound');
  }
  const scan = scanParentChain(byId, input.backupId);
  const dirOf = new Map(all.map((b) => [b.node.id, b.dir]));
  const backups = scan.chain.map((n) => ({ id: n.id, dir: dirOf.get(n.id)!, status: n.status, mode: n.mode ?? 'UNKNOWN' }));
  return scan.kind === 'broken' ? { backups, missingId: scan.missingId } : { backups };
}

/**
 * ORPHAN for every OK or DONE backup whose chain is broken or holds a backup that is not OK or
 * DONE (spec §11 step 6); returns pg_probackup's warnings, the marked ones first.
 */
export async function markOrphans(input: { backupPath: string; instance: string; onlyDescendantsOf?: string }): Promise<{ marked: string[]; warnings: string[] }> {
  const all = await readCatalog(input.backupPath, input.instance);
  let findings = findOrphans(all.map((b) => b.node));
  if (input.onlyDescendantsOf) {
    const byId = indexById(all.map((b) => b.node));
    const root = input.onlyDescendantsOf;
    findings = findings.filter((f) => {
      const scan = scanParentChain(byId, f.id);
      return scan.chain.some((n) => n.id === root) || ('missingId' in scan && scan.missingId === root);
    });
  }
  const marked: string[] = [];
  for (const f of findings) {
    if (!f.mark) continue;
    const b = all.find((x) => x.node.id === f.id)!;
    const control = await readBackupControl({ backupDir: b.dir });
    if (control.status === 'OK' || control.status === 'DONE') {
      control.status = 'ORPHAN';
      await writeBackupControl({ backupDir: b.dir, control });
    }
    marked.push(f.id);
  }
  return { marked, warnings: findings.map((f) => `WARNING: ${f.message}`) };
}
