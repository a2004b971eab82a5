/**
 * What `show --archive` reports of an instance's WAL archive (spec §12.4): one entry per timeline
 * with the segments it holds, the segments missing between them, its parent and switchpoint from
 * its history file, the backups taken on it and, for a timeline that has none, the closest valid
 * backup on its ancestors before the switch. pg_probackup's catalog_get_timelines, pure: the
 * command lists the directory and reads the history files.
 */
import type { BackupControl } from './backupControl';
import { lsnFromBigInt, lsnToBigInt, parseLsn, walFileName, type Lsn } from './lsn';

export interface ArchiveTimeline {
  tli: number;
  parentTli: number;
  switchpoint: Lsn;
  minSegno: string;
  maxSegno: string;
  nSegments: number;
  /** Bytes on disk (compressed size for .gz). */
  size: number;
  lostSegments: { begin: string; end: string }[];
  backups: BackupControl[];
  closestBackup: BackupControl | null;
  /** The backup on this timeline that started first: the WAL before it serves none of them. */
  oldestBackup: BackupControl | null;
  /** Every file of the timeline but its history: segments, partial, temporary, backup history. */
  files: { name: string; size: number; segno: bigint }[];
}

/** The direct parent and switchpoint in a timeline history file: its last entry. */
export function parseTimelineHistory(text: string): { parentTli: number; switchpoint: Lsn } | null {
  let last: { parentTli: number; switchpoint: Lsn } | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (!m) return null;
    last = { parentTli: Number(m[1]), switchpoint: parseLsn(m[2].toUpperCase()) };
  }
  return last;
}

interface Building {
  tli: number;
  parentTli: number;
  switchpoint: bigint;
  parent: Building | null;
  begin: bigint | null;
  end: bigint;
  nSegments: number;
  size: number;
  lost: { begin: bigint; end: bigint }[];
  files: { name: string; size: number; segno: bigint }[];
}

const valid = (c: BackupControl) => c.status === 'OK' || c.status === 'DONE';

/**
 * `files`: the archive directory's entries with their sizes; `histories`: the content of each
 * `<tli>.history` by timeline; `backups`: the instance's backups, newest first. Timelines come
 * oldest first; `warn` hears of names that are no WAL file.
 */
export function archiveTimelines(
  files: { name: string; size: number }[],
  histories: Map<number, string>,
  segSize: number,
  backups: BackupControl[],
  warn: (msg: string) => void,
): ArchiveTimeline[] {
  const segsPerXLogId = 0x100000000n / BigInt(segSize);
  const list: Building[] = [];
  let cur: Building | null = null;
  const timeline = (tli: number): Building => {
    if (cur && cur.tli === tli) return cur;
    cur = { tli, parentTli: 0, switchpoint: 0n, parent: null, begin: null, end: 0n, nSegments: 0, size: 0, lost: [], files: [] };
    list.push(cur);
    return cur;
  };
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const seg = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\..*)?$/.exec(f.name);
    if (seg) {
      const suffix = seg[4] ?? '';
      const tli = parseInt(seg[1], 16);
      const segno = BigInt(parseInt(seg[2], 16)) * segsPerXLogId + BigInt(parseInt(seg[3], 16));
      // Backup histories, partial and temporary files belong to the timeline but are no segments.
      if (/^\.[0-9A-F]{8}\.backup$|^(\.gz)?\.partial$|^(\.gz|\.partial)?\.part$/.test(suffix)) {
        timeline(tli).files.push({ ...f, segno });
        continue;
      }
      if (suffix !== '' && suffix !== '.gz') {
        warn(`unexpected WAL file name "${f.name}"`);
        continue;
      }
      const t = timeline(tli);
      t.files.push({ ...f, segno });
      if (t.begin === null) t.begin = segno;
      else if (segno !== t.end + 1n && segno !== t.end) t.lost.push({ begin: t.end + 1n, end: segno - 1n });
      // A segment kept both plain and .gz counts twice, as in pg_probackup.
      t.end = segno;
      t.nSegments++;
      t.size += f.size;
      continue;
    }
    const hist = /^([0-9A-F]{8})\.history$/.exec(f.name);
    if (hist) {
      const tli = parseInt(hist[1], 16);
      const h = parseTimelineHistory(histories.get(tli) ?? '');
      if (!h) continue;
      // Names sort a timeline's history before its segments: it opens the timeline.
      const t = timeline(tli);
      t.parentTli = h.parentTli;
      t.switchpoint = lsnToBigInt(h.switchpoint);
      t.parent = list.find((x) => x.tli === h.parentTli) ?? null;
      continue;
    }
    warn(`unexpected WAL file name "${f.name}"`);
  }
  const onTimeline = (tli: number) => backups.filter((c) => c.timelineId === tli);
  return list
    .filter((t) => t.nSegments > 0 || t.files.length > 0)
    .map((t) => {
      // The valid backup on the nearest ancestor that has one, stopping closest before the switch
      // from that ancestor (pg_probackup's get_closest_backup).
      let closest: BackupControl | null = null;
      for (let child: Building = t; child.parent && !closest; child = child.parent) {
        for (const c of onTimeline(child.parent.tli)) {
          const stop = lsnToBigInt(c.stopLsn);
          if (stop > 0n && valid(c) && stop <= child.switchpoint && (!closest || stop > lsnToBigInt(closest.stopLsn))) closest = c;
        }
      }
      let oldest: BackupControl | null = null;
      for (const c of onTimeline(t.tli)) {
        const start = lsnToBigInt(c.startLsn);
        if (start > 0n && (!oldest || start < lsnToBigInt(oldest.startLsn))) oldest = c;
      }
      return {
        tli: t.tli,
        parentTli: t.parentTli,
        switchpoint: lsnFromBigInt(t.switchpoint),
        minSegno: walFileName(t.tli, t.begin ?? 0n, segSize),
        maxSegno: walFileName(t.tli, t.end, segSize),
        nSegments: t.nSegments,
        size: t.size,
        lostSegments: t.lost.map((l) => ({ begin: walFileName(t.tli, l.begin, segSize), end: walFileName(t.tli, l.end, segSize) })),
        backups: onTimeline(t.tli),
        closestBackup: closest,
        oldestBackup: oldest,
        files: t.files,
      };
    });
}
