/**
 * Validation of an incremental chain before it is trusted (restore, validate -i, merge), as
 * pg_probackup's do_restore_or_validate: members FULL first; the first that fails becomes CORRUPT,
 * its OK descendants ORPHAN, and the chain is refused naming it. Activities do the work; this
 * decides the order and the words.
 */
import type * as catalogActivities from '../activities/catalog';
import type * as restoreActivities from '../activities/restore';

type Catalog = Pick<typeof catalogActivities, 'setBackupStatus' | 'markOrphans'>;
type Checker = Pick<typeof restoreActivities, 'validateBackupForRestore'>;

/** Statuses validation may change (pg_probackup revalidates these; others, e.g. ERROR under --force, stay). */
const REVALIDATED = ['OK', 'DONE', 'ORPHAN', 'CORRUPT'];

export interface ChainValidation {
  ok: boolean;
  /** The member that failed, and why. */
  bad?: { id: string; errors: string[] };
  /** Members found valid, FULL first. */
  valid: string[];
  /** Backups that became ORPHAN. */
  orphaned: string[];
}

export async function validateChain(a: {
  backupPath: string;
  instance: string;
  /** FULL first, the backup asked for last. */
  members: { id: string; dir: string }[];
  skipBlockValidation: boolean;
  threads: number;
  catalog: Catalog;
  checker: Checker;
  log: (line: string) => void;
  /** Members not to validate (a FULL backup in MERGING state is not valid until the merge ends). */
  skip?: (id: string) => boolean;
}): Promise<ChainValidation> {
  const valid: string[] = [];
  for (const m of a.members) {
    if (a.skip?.(m.id)) continue;
    a.log(`INFO: Validating backup ${m.id}`);
    const v = await a.checker.validateBackupForRestore({
      backupPath: a.backupPath,
      instance: a.instance,
      backupId: m.id,
      skipBlockValidation: a.skipBlockValidation,
      threads: a.threads,
    });
    if (v.ok) {
      await markValid(a.catalog, m);
      a.log(`INFO: Backup ${m.id} data files are valid`);
      valid.push(m.id);
      continue;
    }
    const orphaned = await markCorrupt(a, m, v.errors);
    return { ok: false, bad: { id: m.id, errors: v.errors }, valid, orphaned };
  }
  return { ok: true, valid, orphaned: [] };
}

/** A member found corrupt: CORRUPT, with the problems logged, and its OK descendants ORPHAN (returned). */
export async function markCorrupt(
  a: { backupPath: string; instance: string; catalog: Catalog; log: (line: string) => void },
  m: { id: string; dir: string },
  errors: string[],
): Promise<string[]> {
  for (const e of errors.slice(0, 20)) a.log(`WARNING: ${e}`);
  await a.catalog.setBackupStatus({ backupDir: m.dir, status: 'CORRUPT', onlyFrom: REVALIDATED });
  a.log(`WARNING: Backup ${m.id} data files are corrupted`);
  const o = await a.catalog.markOrphans({ backupPath: a.backupPath, instance: a.instance, onlyDescendantsOf: m.id });
  for (const w of o.warnings) a.log(w);
  return o.marked;
}

/** A member found valid: OK again if validation may change its status. */
export async function markValid(catalog: Catalog, m: { dir: string }): Promise<void> {
  await catalog.setBackupStatus({ backupDir: m.dir, status: 'OK', onlyFrom: REVALIDATED });
}

/** "Backup X is corrupt: …" or "Backup X is orphan: its parent P is corrupt: …", with the first problems. */
export function chainFailureMessage(dest: string, bad: { id: string; errors: string[] }): string {
  const first = `${bad.errors[0]}${bad.errors.length > 1 ? ` (and ${bad.errors.length - 1} more problems)` : ''}`;
  return bad.id === dest
    ? `Backup ${dest} is corrupt: ${first}`
    : `Backup ${dest} is orphan: its parent ${bad.id} is corrupt: ${first}; restore a backup of another chain, or take a new FULL backup`;
}
