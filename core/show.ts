/**
 * Rendering of `show` (spec §12): the plain backup table, the JSON list and the plain detail of one
 * backup. Pure functions over BackupControl; the command reads the catalog.
 */
import { backupIdOf, renderBackupControl, type BackupControl } from './backupControl';
import type { ArchiveTimeline } from './archiveTimelines';
import { formatLocalTime } from './timestamps';

/** One row of the plain table, every cell already rendered. */
export interface ShowRow {
  instance: string;
  version: string;
  id: string;
  recoveryTime: string;
  mode: string;
  walMode: string;
  tli: string;
  time: string;
  data: string;
  wal: string;
  zratio: string;
  startLsn: string;
  stopLsn: string;
  status: string;
}

/**
 * pg_probackup's pretty_size: `0` for ≤ 0, bytes below 10240, then kB/MB/GB/TB rounded half up
 * (half-unit arithmetic, as PostgreSQL's pg_size_pretty).
 */
export function prettySize(bytes: number): string {
  if (!(bytes > 0)) return '0';
  let n = Math.floor(bytes);
  if (n < 10 * 1024) return `${n}B`;
  const limit2 = 20 * 1024 - 1;
  n = Math.floor(n / 512); // half-kB units
  for (const unit of ['kB', 'MB', 'GB']) {
    if (Math.abs(n) < limit2) return `${Math.floor((n + 1) / 2)}${unit}`;
    n = Math.floor(n / 1024);
  }
  return `${Math.floor((n + 1) / 2)}TB`;
}

/** pg_probackup's pretty_time_interval for a duration in seconds (fractions = milliseconds). */
export function prettyDuration(seconds: number): string {
  let num = Math.trunc(seconds);
  const ms = Math.trunc((seconds - num) * 1000);
  if (num <= 0 && ms <= 0) return '0';
  const days = Math.floor(num / 86400);
  num %= 86400;
  const hours = Math.floor(num / 3600);
  num %= 3600;
  const minutes = Math.floor(num / 60);
  const secs = num % 60;
  if (days > 0) return `${days}d:${hours}h`;
  if (hours > 0) return `${hours}h:${minutes}m`;
  if (minutes > 0) return `${minutes}m:${secs}s`;
  if (secs > 0) return ms > 0 ? `${secs}s:${ms}ms` : `${secs}s`;
  return `${ms}ms`;
}

function zratio(c: BackupControl): string {
  const u = c.uncompressedBytes ?? -1;
  const d = c.dataBytes ?? -1;
  // pg_probackup computes in single precision: (float)uncompressed / data_bytes
  const z = u > 0 && d > 0 ? Math.fround(Math.fround(u) / Math.fround(d)) : 1;
  return z.toFixed(2);
}

function durationCell(c: BackupControl, nowSec: number): string {
  if (c.status === 'RUNNING') return prettyDuration(Math.max(0, nowSec - c.startTime));
  if (c.endTime !== undefined && c.endTime > 0) {
    if (c.mergeTime !== undefined && c.mergeTime > 0) return prettyDuration(c.endTime - c.mergeTime);
    return prettyDuration(c.endTime - c.startTime);
  }
  return '----';
}

/** Parent TLI shown in the TLI column and JSON `parent-tli`: 0 for FULL, else the parent's TLI. */
function parentTliOf(c: BackupControl, parentTli?: number): number {
  if (c.backupMode === 'FULL') return 0;
  return parentTli ?? c.timelineId;
}

/**
 * The table row for one backup. `parentTli` is the parent backup's timeline for incrementals
 * (defaults to the backup's own timeline when the parent is not known).
 */
export function showRowFromControl(instance: string, c: BackupControl, nowSec: number, parentTli?: number): ShowRow {
  return {
    instance,
    version: c.serverVersion ? c.serverVersion : '----',
    id: backupIdOf(c),
    recoveryTime: c.recoveryTime !== undefined && c.recoveryTime > 0 ? formatLocalTime(c.recoveryTime) : '----',
    mode: c.backupMode,
    walMode: c.stream ? 'STREAM' : 'ARCHIVE',
    tli: `${c.timelineId}/${parentTliOf(c, parentTli)}`,
    time: durationCell(c, nowSec),
    data: prettySize(c.dataBytes ?? -1),
    wal: prettySize(c.walBytes ?? -1),
    zratio: zratio(c),
    startLsn: c.startLsn,
    stopLsn: c.stopLsn,
    status: c.status,
  };
}

const COLUMNS: { key: keyof ShowRow; title: string; right: boolean }[] = [
  { key: 'instance', title: 'Instance', right: false },
  { key: 'version', title: 'Version', right: false },
  { key: 'id', title: 'ID', right: false },
  { key: 'recoveryTime', title: 'Recovery Time', right: false },
  { key: 'mode', title: 'Mode', right: false },
  { key: 'walMode', title: 'WAL Mode', right: false },
  { key: 'tli', title: 'TLI', right: false },
  { key: 'time', title: 'Time', right: true },
  { key: 'data', title: 'Data', right: true },
  { key: 'wal', title: 'WAL', right: true },
  { key: 'zratio', title: 'Zratio', right: true },
  { key: 'startLsn', title: 'Start LSN', right: false },
  { key: 'stopLsn', title: 'Stop LSN', right: false },
  { key: 'status', title: 'Status', right: false },
];

/**
 * The plain backup list (spec §12.1): `=` line, header, `=` line, one line per row (give rows
 * newest first). Cells are ` value ` padded to the column width; Time, Data, WAL and Zratio
 * right-aligned.
 */
export function formatBackupTable(rows: ShowRow[]): string {
  return formatTable(COLUMNS, rows.map((r) => COLUMNS.map((c) => r[c.key])));
}

/**
 * pg_probackup's plain tables: `=` line, header, `=` line, one line per row; each cell ` value `
 * padded to its column's width (the widest of title and values), left-aligned unless `right`.
 */
function formatTable(columns: { title: string; right?: boolean }[], rows: string[][]): string {
  const widths = columns.map((col, i) => Math.max(col.title.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((v, i) => ' ' + (columns[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i])) + ' ').join('') + '\n';
  const sep = '='.repeat(widths.reduce((a, w) => a + w + 2, 0)) + '\n';
  return sep + line(columns.map((c) => c.title)) + sep + rows.map(line).join('');
}

/** JSON string escaping as pg_probackup's json_add_escaped. */
function jsonEscape(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    switch (ch) {
      case '\b':
        out += '\\b';
        break;
      case '\f':
        out += '\\f';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      default:
        out += code < 0x20 ? `\\u${code.toString(16).padStart(4, '0')}` : ch;
    }
  }
  return out + '"';
}

/** pg_probackup's json.c emitter: 4-space indent, commas right after values. */
class JsonWriter {
  private out = '';
  private level = 0;
  private needComma = false;

  private indent(): void {
    if (this.level === 0) return;
    this.out += '\n' + '    '.repeat(this.level);
  }

  private comma(): void {
    if (this.needComma) this.out += ',';
  }

  beginArray(): void {
    this.out += '[';
    this.level++;
    this.needComma = false;
  }

  endArray(): void {
    this.level--;
    if (this.level === 0) this.out += '\n';
    else this.indent();
    this.out += ']';
    this.needComma = true;
  }

  beginObject(): void {
    this.comma();
    this.indent();
    this.out += '{';
    this.level++;
    this.needComma = false;
  }

  endObject(): void {
    this.level--;
    if (this.level === 0) this.out += '\n';
    else this.indent();
    this.out += '}';
    this.needComma = true;
  }

  key(name: string): void {
    this.comma();
    this.indent();
    this.out += jsonEscape(name) + ': ';
    this.needComma = false;
  }

  str(name: string, value: string): void {
    this.key(name);
    this.out += jsonEscape(value);
    this.needComma = true;
  }

  num(name: string, value: number): void {
    this.key(name);
    this.out += String(value);
    this.needComma = true;
  }

  /** A value already in JSON's words, after key() (a number printed with fixed decimals). */
  raw(text: string): void {
    this.out += text;
    this.needComma = true;
  }

  text(): string {
    return this.out;
  }
}

function tablespaceMapEntries(map: string): { oid: string; path: string }[] {
  const out: { oid: string; path: string }[] = [];
  for (const raw of map.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const sp = line.indexOf(' ');
    if (sp < 0) out.push({ oid: line, path: '' });
    else out.push({ oid: line.slice(0, sp), path: line.slice(sp + 1) });
  }
  return out;
}

function backupJson(w: JsonWriter, c: BackupControl, tablespaceMap?: string, parentTli?: number): void {
  w.beginObject();
  w.str('id', backupIdOf(c));
  if (c.parentBackupId) w.str('parent-backup-id', c.parentBackupId);
  w.str('backup-mode', c.backupMode);
  w.str('wal', c.stream ? 'STREAM' : 'ARCHIVE');
  w.str('compress-alg', c.compressAlg);
  w.num('compress-level', c.compressLevel);
  w.str('from-replica', c.fromReplica ? 'true' : 'false');
  w.num('block-size', c.blockSize);
  w.num('xlog-block-size', c.xlogBlockSize);
  w.num('checksum-version', c.checksumVersion);
  w.str('program-version', c.programVersion);
  w.str('server-version', c.serverVersion);
  w.num('current-tli', c.timelineId);
  w.num('parent-tli', parentTliOf(c, parentTli));
  w.str('start-lsn', c.startLsn);
  w.str('stop-lsn', c.stopLsn);
  w.str('start-time', formatLocalTime(c.startTime));
  if (c.endTime) w.str('end-time', formatLocalTime(c.endTime));
  w.num('recovery-xid', c.recoveryXid);
  if (c.recoveryTime) w.str('recovery-time', formatLocalTime(c.recoveryTime));
  if (c.expireTime) w.str('expire-time', formatLocalTime(c.expireTime));
  if (c.dataBytes !== undefined && c.dataBytes !== -1) w.num('data-bytes', c.dataBytes);
  if (c.walBytes !== undefined && c.walBytes !== -1) w.num('wal-bytes', c.walBytes);
  if (c.uncompressedBytes !== undefined && c.uncompressedBytes >= 0) w.num('uncompressed-bytes', c.uncompressedBytes);
  // pg_probackup prints pgdata-bytes under the uncompressed-bytes condition
  if (c.uncompressedBytes !== undefined && c.uncompressedBytes >= 0) w.num('pgdata-bytes', c.pgdataBytes ?? -1);
  if (c.primaryConninfo) w.str('primary_conninfo', c.primaryConninfo);
  if (c.externalDirs && c.externalDirs.length > 0) w.str('external-dirs', c.externalDirs.join(':'));
  w.str('status', c.status);
  if (c.note) w.str('note', c.note);
  if (c.contentCrc) w.num('content-crc', c.contentCrc >>> 0);
  if (tablespaceMap !== undefined) {
    w.key('tablespace_map');
    w.beginArray();
    for (const t of tablespaceMapEntries(tablespaceMap)) {
      w.beginObject();
      w.str('oid', t.oid);
      w.str('path', t.path);
      w.endObject();
    }
    w.endArray();
  }
  w.endObject();
}

/**
 * `show --format=json` (spec §12.3): array of {instance, backups}; times in local time. Backups
 * are printed in the order given (newest first). Ends with a newline.
 */
export function formatBackupsJson(
  sets: { instance: string; backups: BackupControl[]; tablespaceMaps?: Record<string, string>; parentTlis?: Record<string, number> }[],
): string {
  const w = new JsonWriter();
  w.beginArray();
  for (const s of sets) {
    w.beginObject();
    w.str('instance', s.instance);
    w.key('backups');
    w.beginArray();
    for (const b of s.backups) backupJson(w, b, s.tablespaceMaps?.[backupIdOf(b)], b.parentBackupId ? s.parentTlis?.[b.parentBackupId] : undefined);
    w.endArray();
    w.endObject();
  }
  w.endArray();
  return w.text() + '\n';
}

/**
 * `show -i ID` plain (spec §12.2): the backup.control layout with local-time timestamps, then when
 * the backup has a tablespace_map: a blank line and `tablespace_map = '<oid> <path>; ...'`.
 */
export function formatBackupDetailPlain(c: BackupControl, extra: { tablespaceMap?: string }): string {
  let out = renderBackupControl(c, formatLocalTime);
  if (extra.tablespaceMap !== undefined) {
    const items = tablespaceMapEntries(extra.tablespaceMap).map((t) => `${t.oid} ${t.path}`);
    out += `\ntablespace_map = '${items.join('; ')}'\n`;
  }
  return out;
}

/** pg_probackup shows only timelines that hold segments. */
const withSegments = (timelines: ArchiveTimeline[]) => timelines.filter((t) => t.nSegments > 0);

const ARCHIVE_COLUMNS = ['TLI', 'Parent TLI', 'Switchpoint', 'Min Segno', 'Max Segno', 'N segments', 'Size', 'Zratio', 'N backups', 'Status'].map((title) => ({ title }));

/** Segments' worth of bytes over their size on disk, as pg_probackup prints it (0.00 for none). */
function archiveZratio(t: ArchiveTimeline, segSize: number): string {
  return (t.size === 0 ? 0 : (segSize * t.nSegments) / t.size).toFixed(2);
}

/**
 * `show --archive` plain (spec §12.4): `ARCHIVE INSTANCE '<name>'`, then the table of timelines,
 * newest first, every column left-aligned.
 */
export function formatArchivePlain(instance: string, timelines: ArchiveTimeline[], segSize: number): string {
  const rows = withSegments(timelines).reverse().map((t) => [
    String(t.tli),
    String(t.parentTli),
    t.switchpoint,
    t.minSegno,
    t.maxSegno,
    String(t.nSegments),
    prettySize(t.size),
    archiveZratio(t, segSize),
    String(t.backups.length),
    t.lostSegments.length ? 'DEGRADED' : 'OK',
  ]);
  return `\nARCHIVE INSTANCE '${instance}'\n` + formatTable(ARCHIVE_COLUMNS, rows);
}

/** `show --archive --format=json` (spec §12.4): per instance, its timelines newest first. */
export function formatArchiveJson(sets: { instance: string; timelines: ArchiveTimeline[]; segSize: number; parentTlis?: Record<string, number> }[]): string {
  const w = new JsonWriter();
  w.beginArray();
  for (const s of sets) {
    w.beginObject();
    w.str('instance', s.instance);
    w.key('timelines');
    w.beginArray();
    for (const t of withSegments(s.timelines).reverse()) {
      w.beginObject();
      w.num('tli', t.tli);
      w.num('parent-tli', t.parentTli);
      w.str('switchpoint', t.switchpoint);
      w.str('min-segno', t.minSegno);
      w.str('max-segno', t.maxSegno);
      w.num('n-segments', t.nSegments);
      w.num('size', t.size);
      w.key('zratio');
      w.raw(archiveZratio(t, s.segSize));
      w.str('closest-backup-id', t.closestBackup ? backupIdOf(t.closestBackup) : '');
      w.str('status', t.lostSegments.length ? 'DEGRADED' : 'OK');
      // An empty list is `[]` on the key's line, as pg_probackup prints it.
      w.key('lost-segments');
      if (t.lostSegments.length === 0) w.raw('[]');
      else {
        w.beginArray();
        for (const l of t.lostSegments) {
          w.beginObject();
          w.str('begin-segno', l.begin);
          w.str('end-segno', l.end);
          w.endObject();
        }
        w.endArray();
      }
      w.key('backups');
      if (t.backups.length === 0) w.raw('[]');
      else {
        w.beginArray();
        for (const b of t.backups) backupJson(w, b, undefined, b.parentBackupId ? s.parentTlis?.[b.parentBackupId] : undefined);
        w.endArray();
      }
      w.endObject();
    }
    w.endArray();
    w.endObject();
  }
  w.endArray();
  return w.text() + '\n';
}
