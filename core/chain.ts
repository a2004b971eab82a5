/**
 * Incremental chains (spec §7.2, §8.1, §11): a backup's parent links lead to a FULL backup. Which
 * parent a new incremental takes, whether a chain is whole and valid, and which backups become
 * ORPHAN when an ancestor is missing or not valid, as pg_probackup decides them
 * (catalog_get_last_data_backup, scan_parent_chain, is_parent). Pure: callers read the catalog.
 */
import type { BackupControl } from './backupControl';
import type { Lsn } from './lsn';
import type { BackupMode, BackupStatus } from './types';

/** What chain decisions need of one backup of the catalog. */
export interface ChainNode {
  id: string;
  /** null when backup.control could not be read. */
  mode: BackupMode | null;
  status: BackupStatus;
  parentId?: string;
  timeline: number;
  startLsn: Lsn;
  mergeDestId?: string;
}

export function chainNode(id: string, c: BackupControl | null): ChainNode {
  if (!c) return { id, mode: null, status: 'UNKNOWN', timeline: 0, startLsn: '0/0' as Lsn };
  return {
    id,
    mode: c.backupMode,
    status: c.status,
    timeline: c.timelineId,
    startLsn: c.startLsn,
    ...(c.parentBackupId ? { parentId: c.parentBackupId } : {}),
    ...(c.mergeDestId ? { mergeDestId: c.mergeDestId } : {}),
  };
}

export const isValidStatus = (s: BackupStatus): boolean => s === 'OK' || s === 'DONE';

export function indexById(nodes: readonly ChainNode[]): Map<string, ChainNode> {
  return new Map(nodes.map((n) => [n.id, n]));
}

export type ChainScan =
  /** FULL first, the backup asked for last. */
  | { kind: 'ok'; chain: ChainNode[] }
  /** The oldest backup present (chain[0], not a FULL) names a parent the catalog does not have. */
  | { kind: 'broken'; chain: ChainNode[]; missingId: string }
  /** Whole, but `invalid` (the oldest member that is not OK or DONE, the backup itself included) spoils it. */
  | { kind: 'invalid'; chain: ChainNode[]; invalid: ChainNode };

/** scan_parent_chain: follows parent links from `id` down to its FULL backup. */
export function scanParentChain(byId: ReadonlyMap<string, ChainNode>, id: string): ChainScan {
  const start = byId.get(id);
  if (!start) return { kind: 'broken', chain: [], missingId: id };
  const chain: ChainNode[] = [start];
  const seen = new Set([id]);
  let cur = start;
  while (cur.mode !== 'FULL') {
    const parent = cur.parentId ? byId.get(cur.parentId) : undefined;
    // A parent link that loops is as good as a missing parent.
    if (!parent || seen.has(parent.id)) return { kind: 'broken', chain: chain.reverse(), missingId: cur.parentId ?? '(none)' };
    chain.push(parent);
    seen.add(parent.id);
    cur = parent;
  }
  chain.reverse();
  const invalid = chain.find((n) => !isValidStatus(n.status));
  return invalid ? { kind: 'invalid', chain, invalid } : { kind: 'ok', chain };
}

/** is_parent(ancestor, node, inclusive = false): `ancestorId` is on node's parent chain. */
export function descendsFrom(byId: ReadonlyMap<string, ChainNode>, ancestorId: string, node: ChainNode): boolean {
  const seen = new Set<string>([node.id]);
  let cur: ChainNode | undefined = node;
  while (cur?.parentId) {
    if (cur.parentId === ancestorId) return true;
    if (seen.has(cur.parentId)) return false;
    seen.add(cur.parentId);
    cur = byId.get(cur.parentId);
  }
  return false;
}

/** Every backup whose chain passes through `ancestorId`, in the order given. */
export function descendantsOf(nodes: readonly ChainNode[], ancestorId: string): ChainNode[] {
  const byId = indexById(nodes);
  return nodes.filter((n) => descendsFrom(byId, ancestorId, n));
}

export type ParentChoice =
  | { ok: true; parent: ChainNode; chain: ChainNode[]; warnings: string[] }
  | { ok: false; error: string; warnings: string[] };

/**
 * The parent of a new incremental backup (catalog_get_last_data_backup): the newest valid FULL
 * backup on the current timeline, then the newest valid backup descending from it (or it) whose
 * chain is whole and valid. `nodes` are newest first; `selfId` is the backup being made.
 */
export function chooseIncrementalParent(nodes: readonly ChainNode[], timeline: number, selfId?: string): ParentChoice {
  const warnings: string[] = [];
  const byId = indexById(nodes);
  const full = nodes.find((n) => n.mode === 'FULL' && isValidStatus(n.status) && n.timeline === timeline);
  const noFull = `Valid full backup on current timeline ${timeline} is not found. Create new FULL backup before an incremental one.`;
  if (!full) return { ok: false, error: noFull, warnings };
  for (const n of nodes) {
    if (n.id === selfId) continue;
    if (!isValidStatus(n.status)) {
      warnings.push(`WARNING: Backup ${n.id} has status: ${n.status}. Cannot be a parent.`);
      continue;
    }
    const scan = scanParentChain(byId, n.id);
    if (scan.kind === 'broken') {
      warnings.push(`WARNING: Backup ${n.id} has missing parent: ${scan.missingId}. Cannot be a parent`);
      continue;
    }
    if (scan.kind === 'invalid') {
      warnings.push(`WARNING: Backup ${n.id} has invalid parent: ${scan.invalid.id}. Cannot be a parent`);
      continue;
    }
    if (scan.chain[0].id === full.id) return { ok: true, parent: n, chain: scan.chain, warnings };
  }
  return { ok: false, error: noFull, warnings };
}

export interface OrphanFinding {
  id: string;
  /** The missing parent, or the oldest ancestor that is not OK or DONE. */
  parentId: string;
  parentStatus?: BackupStatus;
  /** The backup was OK or DONE and becomes ORPHAN; otherwise its status stays and it is only reported. */
  mark: boolean;
  /** pg_probackup's warning. */
  message: string;
}

/**
 * After validation (do_validate_instance): every incremental backup whose chain is broken, or has
 * an ancestor that is not OK or DONE, is reported; the OK and DONE ones become ORPHAN. A backup
 * whose chain is whole and valid again (an ancestor revalidated) is not listed.
 */
export function findOrphans(nodes: readonly ChainNode[]): OrphanFinding[] {
  const byId = indexById(nodes);
  const out: OrphanFinding[] = [];
  for (const n of nodes) {
    if (n.mode === 'FULL') continue;
    const scan = scanParentChain(byId, n.id);
    const mark = isValidStatus(n.status);
    if (scan.kind === 'broken') {
      const parentId = scan.missingId;
      out.push({
        id: n.id, parentId, mark,
        message: mark ? `Backup ${n.id} is orphaned because his parent ${parentId} is missing` : `Backup ${n.id} has missing parent ${parentId}`,
      });
    } else if (scan.kind === 'invalid' && scan.invalid.id !== n.id) {
      const p = scan.invalid;
      out.push({
        id: n.id, parentId: p.id, parentStatus: p.status, mark,
        message: mark
          ? `Backup ${n.id} is orphaned because his parent ${p.id} has status: ${p.status}`
          : `Backup ${n.id} has parent ${p.id} with status: ${p.status}`,
      });
    }
  }
  return out;
}
