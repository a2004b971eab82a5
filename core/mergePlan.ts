/**
 * merge -i ID (spec §9): the chain FULL … ID becomes one FULL backup with ID's identity. Which
 * chain a request means (do_merge's cases, including the re-run of an interrupted merge), what
 * becomes of each file of ID's list, and the merged backup.control. Pure: activities/merge does
 * the copying, workflows/merge.ts the order.
 */
import { isDirectoryEntry, type FileEntry } from './backupContent';
import type { BackupControl } from './backupControl';
import type { BackupId } from './backupId';
import { indexById, isValidStatus, scanParentChain, type ChainNode } from './chain';
import { chainFileSources, holdsEveryBlock, type FileSource } from './restoreChain';
import { PROGRAM_VERSION, type BackupStatus } from './types';

export interface MergeTarget {
  fullId: string;
  destId: string;
  /** The incremental backups still in the catalog, oldest first (the destination last when present). */
  incrementals: string[];
  /**
   * fresh: nothing done yet; retry: an interrupted merge copies again (MERGING); merged: the files
   * are merged (FULL is MERGED), what is left is deleting the incrementals and taking ID's name.
   */
  state: 'fresh' | 'retry' | 'merged';
  warnings: string[];
}

const MERGEABLE: readonly BackupStatus[] = ['OK', 'DONE', 'MERGING', 'MERGED', 'DELETING'];

type Resolution = ({ ok: true } & MergeTarget) | { ok: false; error: string };

/** Which merge `merge -i requested` means (do_merge), from the catalog newest first. */
export function resolveMergeTarget(nodes: readonly ChainNode[], requested: string): Resolution {
  const warnings: string[] = [];
  const fail = (error: string): Resolution => ({ ok: false, error });
  const byId = indexById(nodes);
  let dest: ChainNode | undefined = byId.get(requested);
  let full: ChainNode | undefined;
  // A merge interrupted after the destination was deleted: the FULL backup remembers it.
  if (!dest) dest = nodes.find((n) => n.status === 'MERGED' && n.mergeDestId === requested);
  if (!dest) return fail(`Target backup ${requested} was not found: see "gs_probackup show" for the backups of the instance`);

  if (dest.mode === 'FULL') {
    full = dest;
    dest = undefined;
    if (full.status === 'OK' || full.status === 'DONE') {
      const children = nodes.filter((n) => n.parentId === full!.id && isValidStatus(n.status));
      if (children.length > 1) {
        return fail(`Merge target is full backup and has multiple direct children, you must specify child backup id you want to merge with (children of ${full.id}: ${children.map((c) => c.id).join(', ')})`);
      }
      if (children.length === 0) return fail(`Failed to find merge candidate, backup ${full.id} has no valid children`);
      warnings.push(`INFO: Merge target backup ${full.id} is full backup; merging it with its child ${children[0].id}`);
      dest = children[0];
    } else if (full.status === 'MERGING') {
      dest = full.mergeDestId ? byId.get(full.mergeDestId) : undefined;
      if (!dest) return fail(`Full backup ${full.id} has unfinished merge with missing backup ${full.mergeDestId ?? '(unknown)'}: it cannot be completed; delete it and take a new FULL backup`);
    } else if (full.status === 'MERGED') {
      dest = full.mergeDestId ? byId.get(full.mergeDestId) : undefined;
      if (!full.mergeDestId) return fail(`Failed to determine merge destination backup of ${full.id}`);
    } else {
      return fail(`Backup ${full.id} has status: ${full.status}`);
    }
  } else {
    if (!MERGEABLE.includes(dest.status)) return fail(`Backup ${dest.id} has status: ${dest.status}`);
    if (dest.status === 'MERGING' || dest.status === 'DELETING') warnings.push(`WARNING: Rerun unfinished merge for backup ${dest.id}`);
    const scan = scanParentChain(byId, dest.id);
    if (scan.kind === 'broken') {
      // Legal only when an interrupted merge already deleted older incrementals.
      const d = dest;
      if (d.status !== 'MERGING') return fail(`Failed to find parent full backup for ${d.id}: backup ${scan.missingId} of its chain is missing`);
      full = nodes.find((n) => n.mergeDestId === d.id);
      if (!full) return fail(`Failed to find full backup that has unfinished merge with backup ${d.id}, cannot rerun merge`);
      if (full.status !== 'MERGED') return fail(`Incremental chain is broken, merge is impossible to finish: backup ${scan.missingId} is missing`);
      warnings.push('WARNING: Incremental chain is broken, try to recover unfinished merge');
    } else {
      full = scan.chain[0];
      if ((full.status === 'MERGING' || full.status === 'MERGED') && full.mergeDestId !== dest.id) {
        return fail(`Full backup ${full.id} has unfinished merge with backup ${full.mergeDestId}: run "gs_probackup merge -i ${full.mergeDestId}" first`);
      }
    }
  }
  if (!(['OK', 'DONE', 'MERGING', 'MERGED'] as BackupStatus[]).includes(full.status)) return fail(`Backup ${full.id} has status: ${full.status}`);
  const destId = dest?.id ?? full.mergeDestId!;
  if (!dest && full.status !== 'MERGED') return fail(`Cannot run merge for full backup ${full.id}`);

  // The incrementals from the destination down to the FULL backup, as far as they still exist.
  const incrementals: string[] = [];
  for (let cur = dest; cur && cur.mode !== 'FULL'; cur = cur.parentId ? byId.get(cur.parentId) : undefined) {
    if (!MERGEABLE.includes(cur.status)) return fail(`Backup ${cur.id} has status: ${cur.status}`);
    if (incrementals.includes(cur.id)) break;
    incrementals.unshift(cur.id);
  }
  const state = full.status === 'MERGED' ? 'merged' : full.status === 'MERGING' || incrementals.some((i) => byId.get(i)!.status !== 'OK' && byId.get(i)!.status !== 'DONE') ? 'retry' : 'fresh';
  return { ok: true, fullId: full.id, destId, incrementals, state, warnings };
}

/** What the merge does with one entry of the destination's file list. */
export type MergeAction =
  | { kind: 'dir' }
  /** An empty file or relation: nothing is stored. */
  | { kind: 'empty' }
  /** The FULL backup's copy already is the file. */
  | { kind: 'keep'; index: number }
  /** One member's copy is the whole file: it is hard-linked into the merged backup. */
  | { kind: 'link'; member: number; index: number }
  /** A data file made of pages of several copies (newest first): rebuilt and stored again. */
  | { kind: 'build'; sources: FileSource[] };

/**
 * One action per entry of the destination's list (`lists` FULL first, destination last). A copy
 * is reused whole (kept or linked) whenever it holds every block at the destination's length;
 * otherwise the data file is rebuilt from its pages, as pg_probackup's merge does when it cannot
 * merge in place.
 */
export function planMergeActions(lists: readonly (readonly FileEntry[])[], ids: readonly string[]): MergeAction[] {
  const last = lists.length - 1;
  const sources = chainFileSources(lists, ids);
  return lists[last].map((e, i): MergeAction => {
    if (isDirectoryEntry(e)) return { kind: 'dir' };
    const src = sources[i] ?? [{ member: last, index: i }];
    if (e.isDatafile) {
      if ((e.nBlocks ?? 0) === 0) return { kind: 'empty' };
      if (src.length === 1) {
        const c = lists[src[0].member][src[0].index];
        if (holdsEveryBlock(c) && c.nBlocks === e.nBlocks) {
          return src[0].member === 0 ? { kind: 'keep', index: src[0].index } : { kind: 'link', member: src[0].member, index: src[0].index };
        }
      }
      return { kind: 'build', sources: src };
    }
    const c = lists[src[0].member][src[0].index];
    if (c.size === 0) return { kind: 'empty' };
    // The FULL backup's copy stays where it is only under the same name (external directories are renumbered).
    if (src[0].member === 0 && e.externalDirNum === 0) return { kind: 'keep', index: src[0].index };
    return { kind: 'link', member: src[0].member, index: src[0].index };
  });
}

/**
 * The merged backup.control (merge_chain): the FULL backup takes the destination's LSNs, times,
 * WAL mode, compression, pinning and note; the new file list's sums and CRC; MERGED until it also
 * takes the destination's ID.
 */
export function mergedControl(full: BackupControl, dest: BackupControl, a: {
  dataBytes: number;
  walBytes: number;
  uncompressedBytes: number;
  contentCrc: number;
  mergeTime: number;
  endTime: number;
  destId: string;
}): BackupControl {
  const out: BackupControl = {
    ...full,
    backupMode: 'FULL',
    programVersion: PROGRAM_VERSION,
    serverVersion: dest.serverVersion || full.serverVersion,
    checksumVersion: dest.checksumVersion,
    startLsn: dest.startLsn,
    stopLsn: dest.stopLsn,
    recoveryTime: dest.recoveryTime,
    recoveryXid: dest.recoveryXid,
    timelineId: dest.timelineId,
    fromReplica: dest.fromReplica,
    externalDirs: dest.externalDirs,
    primaryConninfo: dest.primaryConninfo,
    mergeTime: a.mergeTime,
    endTime: a.endTime,
    compressAlg: dest.compressAlg,
    compressLevel: dest.compressLevel,
    expireTime: dest.expireTime,
    note: dest.note,
    stream: dest.stream,
    dataBytes: a.dataBytes,
    walBytes: dest.stream ? a.walBytes : dest.walBytes,
    uncompressedBytes: a.uncompressedBytes,
    pgdataBytes: dest.pgdataBytes,
    contentCrc: a.contentCrc,
    status: 'MERGED',
    mergeDestId: a.destId as BackupId,
  };
  delete out.parentBackupId;
  for (const k of Object.keys(out) as (keyof BackupControl)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** The merged backup once it has the destination's name: its ID, OK, no merge in progress. */
export function finishedControl(merged: BackupControl, destStartTime: number): BackupControl {
  const out: BackupControl = { ...merged, startTime: destStartTime, status: 'OK' };
  delete out.mergeDestId;
  return out;
}

/** Sums of backup_content.control (spec §3): directories count 4096, WAL goes to wal-bytes, -1 counts nothing. */
export function contentSums(entries: readonly FileEntry[]): { dataBytes: number; walBytes: number; uncompressedBytes: number } {
  let dataBytes = 0;
  let walBytes = 0;
  let uncompressedBytes = 0;
  for (const e of entries) {
    if (isDirectoryEntry(e)) {
      dataBytes += 4096;
      uncompressedBytes += 4096;
    } else if (e.externalDirNum === 0 && e.path.startsWith('pg_wal/')) {
      walBytes += Math.max(e.size, 0);
    } else if (e.size > 0) {
      dataBytes += e.size;
      uncompressedBytes += e.fullSize ?? e.size;
    }
  }
  return { dataBytes, walBytes, uncompressedBytes };
}
