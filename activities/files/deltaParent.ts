/**
 * The parent's file list for a DELTA copy: how many blocks each data file had in the parent. Read
 * once per process and parent (the chain cannot change under a running backup: delete and merge
 * refuse a chain a running backup reads), not once per batch.
 */
import * as fs from 'node:fs/promises';
import { parseBackupContent } from '../../core/backupContent';
import { catalogPaths } from '../../core/catalogPaths';
import { deltaPageFilter, fileKey, parentBlockCounts, type DeltaPageFilter } from '../../core/deltaPlan';
import type { Lsn } from '../../core/lsn';

/** What the copy of a DELTA backup is told about its parent. */
export interface DeltaSource {
  parentBackupDir: string;
  parentStartLsn: Lsn;
}

const cache = new Map<string, { stamp: string; blocks: Map<string, number> }>();

async function parentBlocks(parentDir: string): Promise<Map<string, number>> {
  const file = catalogPaths.backupContent(parentDir);
  const st = await fs.stat(file);
  const stamp = `${st.mtimeMs}:${st.size}`;
  const hit = cache.get(parentDir);
  if (hit && hit.stamp === stamp) return hit.blocks;
  const blocks = parentBlockCounts(parseBackupContent(await fs.readFile(file, 'utf8'), file));
  cache.set(parentDir, { stamp, blocks });
  return blocks;
}

/** Per data file: its page filter (undefined: the parent lacks it, store it whole) and whether the parent had it. */
export async function deltaFilters(delta: DeltaSource): Promise<(e: { path: string; externalDirNum: number }) => { filter?: DeltaPageFilter; inParent: boolean }> {
  const blocks = await parentBlocks(delta.parentBackupDir);
  return (e) => {
    const prev = blocks.get(fileKey(e));
    return { filter: deltaPageFilter(delta.parentStartLsn, prev), inParent: prev !== undefined };
  };
}
