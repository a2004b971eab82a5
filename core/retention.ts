/**
 * Retention (spec §10; pg_probackup's do_retention_internal, do_retention_merge and
 * do_retention_purge): which backups a redundancy and window policy expires, which incremental
 * backups it keeps on expired parents, the merges `--merge-expired` makes of those, and what
 * `--delete-expired` deletes after them. Pure: the catalog is read by an activity, the clock is
 * the workflow's.
 */
import { descendsFrom, indexById, isValidStatus, scanParentChain, type ChainNode } from './chain';
import { formatLocalTime } from './timestamps';

/** What retention needs of one backup, besides its place in the chain. */
export interface RetentionNode extends ChainNode {
  /** Unix seconds; 0 when the backup never got one (running, failed). */
  recoveryTime: number;
  startTime: number;
  /** Pinned until this Unix time (set-backup --ttl/--expire-time); 0 when not pinned. */
  expireTime: number;
}

export interface RetentionPolicy {
  /** How many valid FULL backups, with their incremental chains, to keep (0: off). */
  redundancy: number;
  /** How many days of recoverability to keep (0: off). */
  windowDays: number;
}

export interface RetentionMerge {
  fullId: string;
  /** The kept incremental backup the chain is merged into: the merged FULL backup takes its ID. */
  destId: string;
}

export interface RetentionPlan {
  /** The log of the evaluation, pg_probackup's lines without their level's prefix. */
  lines: { level: 'INFO' | 'LOG' | 'WARNING'; text: string }[];
  /** Expired backups, newest first. */
  expired: string[];
  /** Incremental backups within the policy whose parent expired, newest first. */
  kept: string[];
  /** With --merge-expired: each kept backup whose FULL backup expired, merged with its chain. */
  merges: RetentionMerge[];
  /** With --delete-expired: the expired backups no kept backup descends from, newest first. */
  purge: string[];
}

const DAY = 86400;

export const retentionIsSet = (p: RetentionPolicy): boolean => p.redundancy > 0 || p.windowDays > 0;

/** The FULL backup at the root of a backup's parent chain (find_parent_full_backup), if the chain is whole. */
function fullOf(byId: ReadonlyMap<string, ChainNode>, id: string): ChainNode | undefined {
  const scan = scanParentChain(byId, id);
  return scan.kind === 'broken' ? undefined : scan.chain[0];
}

/**
 * Evaluates `backups` (newest first, as the catalog lists them) against `policy` at `now` (Unix
 * seconds), and plans the merges and deletions the flags ask for.
 */
export function planRetention(
  backups: readonly RetentionNode[],
  policy: RetentionPolicy,
  now: number,
  flags: { mergeExpired: boolean; deleteExpired: boolean },
): RetentionPlan {
  const lines: RetentionPlan['lines'] = [];
  const byId = indexById(backups);
  const isValidFull = (b: RetentionNode) => b.mode === 'FULL' && isValidStatus(b.status);

  // The newest `redundancy` valid FULL backups: their chains are kept, whatever their age.
  const redundancyFulls = new Set(policy.redundancy > 0 ? backups.filter(isValidFull).slice(0, policy.redundancy).map((b) => b.id) : []);
  const threshold = policy.windowDays > 0 ? now - policy.windowDays * DAY : 0;

  lines.push({ level: 'INFO', text: 'Evaluate backups by retention' });
  const expired = new Set<string>();
  for (const b of [...backups].reverse()) {
    const full = fullOf(byId, b.id);
    const redundancyKeep = full !== undefined && redundancyFulls.has(full.id);
    // Running and failed backups have no recovery time: their start counts instead.
    const time = b.recoveryTime || b.startTime;
    if ((threshold === 0 || threshold > time) && (policy.redundancy === 0 || !redundancyKeep)) {
      if (b.expireTime > now) {
        lines.push({ level: 'LOG', text: `Backup ${b.id} is pinned until '${formatLocalTime(b.expireTime)}', retain` });
        continue;
      }
      expired.add(b.id);
    }
  }

  // Incremental backups within the policy whose direct parent expired: their chains must stay.
  const kept = backups.filter((b) => b.mode !== 'FULL' && b.mode !== null && b.parentId !== undefined && byId.has(b.parentId) && !expired.has(b.id) && expired.has(b.parentId));

  let fullNumber = 1;
  for (const b of backups) {
    const actualWindow = b.recoveryTime === 0 ? 0 : Math.floor((now - b.recoveryTime) / DAY);
    const pinningWindow = b.expireTime > 0 && b.expireTime > b.recoveryTime ? Math.floor((b.expireTime - b.recoveryTime) / DAY) : 0;
    lines.push({
      level: 'INFO',
      text:
        `Backup ${b.id}, mode: ${b.mode ?? 'INVALID'}, status: ${b.status}. Redundancy: ${fullNumber}/${policy.redundancy}, ` +
        `Time Window: ${actualWindow}d/${pinningWindow || policy.windowDays}d. ${expired.has(b.id) ? 'Expired' : 'Active'}`,
    });
    if (isValidFull(b)) fullNumber++;
  }

  // --merge-expired: a kept backup whose FULL backup expired absorbs its chain (do_retention_merge).
  const purgeSet = new Set(expired);
  const keptLeft = new Set(kept.map((b) => b.id));
  const merges: RetentionMerge[] = [];
  if (flags.mergeExpired) {
    for (const keep of kept) {
      lines.push({ level: 'INFO', text: `Consider backup ${keep.id} for merge` });
      const scan = scanParentChain(byId, keep.id);
      if (scan.kind === 'broken') {
        lines.push({ level: 'WARNING', text: `Failed to find FULL parent for ${keep.id}` });
        continue;
      }
      const full = scan.chain[0];
      if (!purgeSet.has(full.id)) {
        lines.push({ level: 'WARNING', text: `Skip backup ${keep.id} for merging, because his FULL parent is not marked for purge` });
        continue;
      }
      lines.push({ level: 'INFO', text: `Merge incremental chain between full backup ${full.id} and backup ${keep.id}` });
      merges.push({ fullId: full.id, destId: keep.id });
      // The chain becomes one FULL backup with keep's ID: none of it is left to purge.
      for (const n of scan.chain) purgeSet.delete(n.id);
      keptLeft.delete(keep.id);
    }
  }

  // --delete-expired: an expired backup goes unless a kept backup descends from it.
  const purge: string[] = [];
  if (flags.deleteExpired) {
    for (const id of backups.map((b) => b.id).filter((i) => purgeSet.has(i))) {
      // Kept backups are never expired, so never `id` itself: is_parent's inclusive case is moot.
      const guard = [...keptLeft].find((k) => descendsFrom(byId, id, byId.get(k)!));
      if (guard) {
        lines.push({ level: 'LOG', text: `Retain backup ${id} because his descendant ${guard} is guarded by retention` });
        continue;
      }
      purge.push(id);
    }
  }
  return { lines, expired: backups.map((b) => b.id).filter((i) => expired.has(i)), kept: kept.map((b) => b.id), merges, purge };
}
