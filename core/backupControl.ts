/**
 * backup.control (spec §3): the model and its text form. parse/serialize are the single source of
 * truth for the file; `show` renders from the same model.
 */
import type { BackupId } from './backupId';
import { parseKeyValue, parseBool, parseIntValue, quote } from './keyValue';
import { INVALID_LSN, parseLsn, type Lsn } from './lsn';
import { formatControlTime, parseControlTime } from './timestamps';
import { BACKUP_MODES, BACKUP_STATUSES, COMPRESS_ALGS } from './types';
import type { BackupMode, BackupStatus, CompressAlg } from './types';

export interface BackupControl {
  backupMode: BackupMode;
  stream: boolean;
  compressAlg: CompressAlg;
  compressLevel: number;
  fromReplica: boolean;
  blockSize: number;
  xlogBlockSize: number;
  checksumVersion: number;
  programVersion: string;
  serverVersion: string;
  timelineId: number;
  startLsn: Lsn;
  stopLsn: Lsn;
  /** Unix seconds; equals the backup ID. */
  startTime: number;
  mergeTime?: number;
  endTime?: number;
  recoveryXid: number;
  recoveryTime?: number;
  expireTime?: number;
  recoveryName?: string;
  mergeDestId?: BackupId;
  dataBytes?: number;
  walBytes?: number;
  uncompressedBytes?: number;
  pgdataBytes?: number;
  status: BackupStatus;
  parentBackupId?: BackupId;
  primaryConninfo?: string;
  externalDirs?: string[];
  note?: string;
  contentCrc?: number;
}

export function backupIdOf(control: BackupControl): BackupId {
  return control.startTime.toString(36).toUpperCase() as BackupId;
}

const UINT32_MAX = 0xffffffff;

function prefixMatch<T extends string>(value: string, words: readonly T[]): T | undefined {
  const v = value.trim().toLowerCase();
  if (v === '') return undefined;
  const hits = words.filter((w) => w.toLowerCase().startsWith(v));
  const exact = hits.find((w) => w.toLowerCase() === v);
  return exact ?? (hits.length === 1 ? hits[0] : undefined);
}

/**
 * Parses backup.control text (spec §3). Unknown keys are ignored; an invalid status reads as
 * UNKNOWN. Throws an Error naming `source` when no key could be read, start-time is missing or 0,
 * or a value of a known key cannot be parsed.
 */
export function parseBackupControl(text: string, source: string): BackupControl {
  const pairs = parseKeyValue(text, source);
  if (pairs.length === 0) throw new Error(`backup control file "${source}" is empty or unreadable`);
  const bad = (key: string, value: string, line: number): never => {
    throw new Error(`invalid value "${value}" for "${key}" in ${source} line ${line}`);
  };
  const c: Partial<BackupControl> & { status: BackupStatus } = {
    stream: false,
    compressAlg: 'none',
    compressLevel: 1,
    fromReplica: false,
    blockSize: 8192,
    xlogBlockSize: 8192,
    checksumVersion: 0,
    programVersion: '',
    serverVersion: '',
    timelineId: 0,
    startLsn: INVALID_LSN,
    stopLsn: INVALID_LSN,
    recoveryXid: 0,
    status: 'UNKNOWN',
  };
  for (const { key, value, line } of pairs) {
    const int = (max = Number.MAX_SAFE_INTEGER): number => {
      const n = parseIntValue(value, max);
      return n === null ? bad(key, value, line) : n;
    };
    const bool = (): boolean => {
      const b = parseBool(value);
      return b === null ? bad(key, value, line) : b;
    };
    const time = (): number | undefined => {
      if (value.trim() === '') return undefined;
      const t = parseControlTime(value);
      if (t === null) return bad(key, value, line);
      return t > 0 ? t : undefined;
    };
    const lsn = (): Lsn => {
      try {
        return parseLsn(value);
      } catch {
        return bad(key, value, line);
      }
    };
    const bytes = (): number | undefined => {
      const n = int();
      return n >= 0 ? n : undefined;
    };
    switch (key) {
      case 'backup-mode': {
        const m = prefixMatch(value, BACKUP_MODES);
        if (!m) bad(key, value, line);
        c.backupMode = m;
        break;
      }
      case 'stream':
        c.stream = bool();
        break;
      case 'compress-alg': {
        const v = value.trim().toLowerCase();
        if (v === 'not-defined' || v === '') c.compressAlg = 'none';
        else {
          const a = prefixMatch(v, COMPRESS_ALGS);
          if (!a) bad(key, value, line);
          c.compressAlg = a;
        }
        break;
      }
      case 'compress-level':
        c.compressLevel = int();
        break;
      case 'from-replica':
        c.fromReplica = bool();
        break;
      case 'block-size':
        c.blockSize = int();
        break;
      case 'xlog-block-size':
        c.xlogBlockSize = int();
        break;
      case 'checksum-version':
        c.checksumVersion = int();
        break;
      case 'program-version':
        c.programVersion = value;
        break;
      case 'server-version':
        c.serverVersion = value;
        break;
      case 'timelineid':
        c.timelineId = int(UINT32_MAX);
        break;
      case 'start-lsn':
        c.startLsn = lsn();
        break;
      case 'stop-lsn':
        c.stopLsn = lsn();
        break;
      case 'start-time':
        c.startTime = time();
        break;
      case 'merge-time':
        c.mergeTime = time();
        break;
      case 'end-time':
        c.endTime = time();
        break;
      case 'recovery-xid':
        c.recoveryXid = int();
        break;
      case 'recovery-time':
        c.recoveryTime = time();
        break;
      case 'expire-time':
        c.expireTime = time();
        break;
      case 'recovery-name':
        c.recoveryName = value || undefined;
        break;
      case 'merge-dest-id':
        c.mergeDestId = (value || undefined) as BackupId | undefined;
        break;
      case 'data-bytes':
        c.dataBytes = bytes();
        break;
      case 'wal-bytes':
        c.walBytes = bytes();
        break;
      case 'uncompressed-bytes':
        c.uncompressedBytes = bytes();
        break;
      case 'pgdata-bytes':
        c.pgdataBytes = bytes();
        break;
      case 'status': {
        const st = value.trim().toUpperCase();
        c.status = (BACKUP_STATUSES as readonly string[]).includes(st) ? (st as BackupStatus) : 'UNKNOWN';
        break;
      }
      case 'parent-backup-id':
        c.parentBackupId = (value || undefined) as BackupId | undefined;
        break;
      case 'primary-conninfo':
        c.primaryConninfo = value || undefined;
        break;
      case 'external-dirs':
        c.externalDirs = value === '' ? undefined : value.split(':');
        break;
      case 'note':
        c.note = value || undefined;
        break;
      case 'content-crc': {
        const n = int(UINT32_MAX);
        c.contentCrc = n !== 0 ? n >>> 0 : undefined;
        break;
      }
      default:
        break; // unknown keys: pg_probackup warns and ignores them
    }
  }
  if (!c.startTime) throw new Error(`backup control file "${source}" has no valid start-time`);
  if (!c.backupMode) throw new Error(`backup control file "${source}" has no valid backup-mode`);
  const out = c as BackupControl;
  for (const k of Object.keys(out) as (keyof BackupControl)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/**
 * Renders the spec §3 layout with timestamps formatted by `fmtTime` (UTC for the file, local time
 * for `show -i`).
 */
export function renderBackupControl(c: BackupControl, fmtTime: (unixSec: number) => string): string {
  const lines: string[] = [];
  const kv = (k: string, v: string | number) => lines.push(`${k} = ${v}\n`);
  const ts = (k: string, t: number | undefined) => {
    if (t !== undefined && t > 0) kv(k, `'${fmtTime(t)}'`);
  };
  lines.push('#Configuration\n');
  kv('backup-mode', c.backupMode.toUpperCase());
  kv('stream', c.stream ? 'true' : 'false');
  kv('compress-alg', c.compressAlg);
  kv('compress-level', c.compressLevel);
  kv('from-replica', c.fromReplica ? 'true' : 'false');
  lines.push('\n#Compatibility\n');
  kv('block-size', c.blockSize);
  kv('xlog-block-size', c.xlogBlockSize);
  kv('checksum-version', c.checksumVersion);
  if (c.programVersion) kv('program-version', c.programVersion);
  if (c.serverVersion) kv('server-version', c.serverVersion);
  lines.push('\n#Result backup info\n');
  kv('timelineid', c.timelineId);
  kv('start-lsn', c.startLsn);
  kv('stop-lsn', c.stopLsn);
  ts('start-time', c.startTime);
  ts('merge-time', c.mergeTime);
  ts('end-time', c.endTime);
  kv('recovery-xid', c.recoveryXid);
  ts('recovery-time', c.recoveryTime);
  ts('expire-time', c.expireTime);
  if (c.recoveryName) kv('recovery-name', quote(c.recoveryName));
  if (c.mergeDestId) kv('merge-dest-id', quote(c.mergeDestId));
  if (c.dataBytes !== undefined && c.dataBytes >= 0) kv('data-bytes', c.dataBytes);
  if (c.walBytes !== undefined && c.walBytes >= 0) kv('wal-bytes', c.walBytes);
  if (c.uncompressedBytes !== undefined && c.uncompressedBytes >= 0) kv('uncompressed-bytes', c.uncompressedBytes);
  if (c.pgdataBytes !== undefined && c.pgdataBytes >= 0) kv('pgdata-bytes', c.pgdataBytes);
  kv('status', c.status);
  if (c.parentBackupId) kv('parent-backup-id', quote(c.parentBackupId));
  if (c.primaryConninfo) kv('primary_conninfo', quote(c.primaryConninfo.split('\n')[0]));
  if (c.externalDirs && c.externalDirs.length > 0) kv('external-dirs', quote(c.externalDirs.join(':')));
  if (c.note) kv('note', quote(c.note.split('\n')[0].replace(/\r/g, '')));
  if (c.contentCrc !== undefined && c.contentCrc !== 0) kv('content-crc', c.contentCrc >>> 0);
  return lines.join('');
}

/** backup.control text, exactly the spec §3 layout with UTC timestamps. */
export function serializeBackupControl(c: BackupControl): string {
  return renderBackupControl(c, formatControlTime);
}
