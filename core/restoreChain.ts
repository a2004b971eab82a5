/**
 * Which stored copies make up a file of an incremental backup (spec §8.2, "bitmap" restore): the
 * newest backup's list says which files exist and how long each data file is; its pages come from
 * the newest backup of the chain that stored them, walking towards the FULL backup. A walk stops
 * at a backup that lacks the file (it was created after that backup, so nothing older is its), and
 * at a copy that holds every block (nothing older can add a page). Pure: the restore and merge
 * activities read and write.
 */
import { isDirectoryEntry, type FileEntry } from './backupContent';
import { fileKey } from './deltaPlan';

/** A stored copy: `member` indexes the chain (0 = FULL), `index` that member's file list. */
export interface FileSource {
  member: number;
  index: number;
}

export class ChainPlanError extends Error {}

/** True when a data file's copy in one backup holds all its blocks (FULL backups always do). */
export function holdsEveryBlock(e: FileEntry): boolean {
  return e.size > 0 && (e.nHeaders ?? 0) >= (e.nBlocks ?? 0);
}

/**
 * For each entry of the newest backup (`lists` FULL first, newest last): null when the newest
 * backup's own copy is the file (or it is a directory or an empty data file), else its sources
 * newest first. A non-data file unchanged since the parent (size -1) has one source, the newest
 * copy; a data file has every copy that may hold one of its pages.
 */
export function chainFileSources(lists: readonly (readonly FileEntry[])[], backupIds: readonly string[]): (FileSource[] | null)[] {
  const last = lists.length - 1;
  const maps = lists.map((l) => new Map(l.map((e, i) => [fileKey(e), i])));
  return lists[last].map((e) => {
    if (isDirectoryEntry(e)) return null;
    const key = fileKey(e);
    if (!e.isDatafile) {
      if (e.size >= 0) return null;
      for (let m = last - 1; m >= 0; m--) {
        const i = maps[m].get(key);
        if (i === undefined) break;
        if (lists[m][i].size >= 0) return [{ member: m, index: i }];
      }
      throw new ChainPlanError(`no backup of the chain of ${backupIds[last]} holds a copy of "${e.path}", which ${backupIds[last]} marks unchanged since its parent`);
    }
    const nBlocks = e.nBlocks ?? 0;
    if (nBlocks === 0 || (last === 0 && e.size >= 0) || holdsEveryBlock(e)) return null;
    const sources: FileSource[] = [];
    for (let m = last; m >= 0; m--) {
      const i = maps[m].get(key);
      if (i === undefined) break;
      const c = lists[m][i];
      if (c.size > 0) sources.push({ member: m, index: i });
      if (holdsEveryBlock(c) && (c.nBlocks ?? 0) >= nBlocks) break;
    }
    if (sources.length === 0) {
      throw new ChainPlanError(`no backup of the chain of ${backupIds[last]} holds a page of "${e.path}" (${nBlocks} blocks)`);
    }
    return sources;
  });
}
