/**
 * Which files of the WAL archive retention may delete (`--delete-wal`), pg_probackup's
 * do_retention_wal without wal-depth: on each timeline, the files of segments before the start of
 * its oldest backup; all of a timeline that no backup is on and no backup on an ancestor reaches
 * (no closest backup); nothing of a timeline a backup on an ancestor reaches. Pure: the activity
 * lists the archive and deletes.
 */
import type { ArchiveTimeline } from './archiveTimelines';
import { lsnToBigInt, walFileName } from './lsn';
import { prettySize } from './show';

export interface WalPurgePlan {
  /** pg_probackup's INFO lines, in its words. */
  lines: string[];
  remove: string[];
}

export function planWalPurge(timelines: ArchiveTimeline[], segSize: number, dryRun: boolean): WalPurgePlan {
  const lines: string[] = [];
  const remove: string[] = [];
  const verb = dryRun ? 'can' : 'will';
  const name = (tli: number, segno: bigint) => walFileName(tli, segno, segSize);
  for (const t of timelines) {
    if (t.files.length === 0) continue;
    // A backup on an ancestor timeline recovers through this one: all of it is needed.
    if (t.closestBackup) continue;
    const all = !t.oldestBackup;
    const first = t.files.reduce((m, f) => (f.segno < m ? f.segno : m), t.files[0].segno);
    const last = t.files.reduce((m, f) => (f.segno > m ? f.segno : m), t.files[0].segno);
    const keepFrom = all ? last : lsnToBigInt(t.oldestBackup!.startLsn) / BigInt(segSize);
    let logical = 0n;
    if (all) {
      lines.push(`On timeline ${t.tli} all files ${verb} be removed`);
      logical = (keepFrom - first + 1n) * BigInt(segSize);
    } else if (keepFrom > first) {
      lines.push(`On timeline ${t.tli} WAL segments between ${name(t.tli, first)} and ${name(t.tli, keepFrom)} ${verb} be removed`);
      logical = (keepFrom - first) * BigInt(segSize);
    } else if (keepFrom === first) {
      lines.push(`Nothing to remove on timeline ${t.tli}`);
    }
    if (logical > 0n) lines.push(`Logical WAL size to remove on timeline ${t.tli} : ${prettySize(Number(logical))}`);
    const gone = t.files.filter((f) => all || f.segno < keepFrom);
    const resident = gone.reduce((s, f) => s + f.size, 0);
    if (resident > 0) lines.push(`Resident WAL size to free on timeline ${t.tli} : ${prettySize(resident)}`);
    remove.push(...gone.map((f) => f.name));
  }
  return { lines, remove };
}
