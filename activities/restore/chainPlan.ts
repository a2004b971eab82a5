/**
 * The chain a restore of an incremental backup reads (spec §8.1 step 3, §8.2): every member's file
 * list, checked against its content-crc, and where each file's content is. A chain with a missing
 * member is refused, its OK descendants marked ORPHAN (pg_probackup's restore does the same); one
 * with an ancestor that is not OK or DONE is refused unless --force.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { FileEntry } from '../../core/backupContent';
import { indexById, scanParentChain } from '../../core/chain';
import { ChainPlanError, chainFileSources, type FileSource } from '../../core/restoreChain';
import { markOrphans, readCatalog } from '../catalog/chain';
import { loadBackup, type LoadedBackup } from './validate';

export interface ChainMember {
  id: string;
  backupDir: string;
  entries: FileEntry[];
}

export interface RestoreChain {
  /** FULL first, the backup restored last. */
  members: ChainMember[];
  /** By entry index of the restored backup: the copies its content comes from (core/restoreChain.ts). */
  sources: Record<number, FileSource[]>;
}

const refuse = (msg: string) => ApplicationFailure.nonRetryable(msg, 'RestoreRefused');

export async function loadRestoreChain(req: { backupPath: string; instance: string; force: boolean }, backupId: string, dest: LoadedBackup): Promise<RestoreChain> {
  if (dest.control.backupMode === 'FULL') return { members: [{ id: backupId, backupDir: dest.backupDir, entries: dest.entries }], sources: {} };
  const all = await readCatalog(req.backupPath, req.instance);
  const scan = scanParentChain(indexById(all.map((b) => b.node)), backupId);
  if (scan.kind === 'broken') {
    await markOrphans({ backupPath: req.backupPath, instance: req.instance, onlyDescendantsOf: scan.missingId });
    throw refuse(
      `Backup ${backupId} cannot be restored: its chain is broken, backup ${scan.missingId} (the parent of ${scan.chain[0]?.id ?? backupId}) is missing from the catalog; ` +
        `restore another backup, or take a new FULL backup`,
    );
  }
  if (scan.kind === 'invalid' && scan.invalid.id !== backupId && !req.force) {
    const bad = scan.invalid;
    throw refuse(
      `Backup ${backupId} cannot be restored: its parent ${bad.id} has status: ${bad.status}. ` +
        (bad.status === 'MERGING' || bad.status === 'MERGED' || bad.status === 'DELETING'
          ? 'A merge or delete of the chain is running or was interrupted: let it finish (run it again), then restore'
          : `Validate the chain ("gs_probackup validate --instance=${req.instance} -i ${backupId}"), or use --force`),
    );
  }
  const members: ChainMember[] = [];
  for (const n of scan.chain.slice(0, -1)) {
    let loaded: LoadedBackup;
    try {
      loaded = await loadBackup(req.backupPath, req.instance, n.id);
    } catch (e) {
      throw refuse(`Backup ${backupId} cannot be restored: its parent ${n.id} cannot be read: ${(e as Error).message}`);
    }
    members.push({ id: n.id, backupDir: loaded.backupDir, entries: loaded.entries });
  }
  members.push({ id: backupId, backupDir: dest.backupDir, entries: dest.entries });
  let list: (FileSource[] | null)[];
  try {
    list = chainFileSources(members.map((m) => m.entries), members.map((m) => m.id));
  } catch (e) {
    if (e instanceof ChainPlanError) throw refuse(`Backup ${backupId} cannot be restored: ${e.message}`);
    throw e;
  }
  const sources: Record<number, FileSource[]> = {};
  list.forEach((s, i) => {
    if (s) sources[i] = s;
  });
  return { members, sources };
}
