/**
 * Which PGDATA files a backup takes and how (spec §7.3): excluded directory contents, excluded
 * files, relation file names, data files (main fork segments) and unlogged relations.
 */

/** Directories whose contents are not backed up (the directory itself is kept, empty). */
const EXCLUDED_DIR_CONTENT = new Set([
  'pg_wal', 'pg_stat_tmp', 'pgsql_tmp', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans',
]);

/** Files never backed up, by PGDATA-relative path. backup_label/tablespace_map come from pg_backup_stop. */
const EXCLUDED_FILES = new Set([
  'postgresql.auto.conf.tmp', 'current_logfiles.tmp', 'recovery.conf', 'postmaster.pid', 'postmaster.opts',
  'probackup_recovery.conf', 'recovery.signal', 'standby.signal', 'backup_label', 'tablespace_map',
]);

const EXCLUDED_ANYWHERE = new Set(['pg_internal.init', 'ptrack.map.mmap', 'ptrack.map.tmp', 'ptrack_init']);

export interface ClassifyOptions {
  backupPgLog: boolean;
  backupPgReplslot: boolean;
}

/** True when the contents of this PGDATA directory (relative path) are skipped. */
export function skipsDirContent(rel: string, opts: ClassifyOptions): boolean {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  if (rel === 'log' && !opts.backupPgLog) return true;
  if (name === 'pg_replslot' && rel === 'pg_replslot' && opts.backupPgReplslot) return false;
  if (rel.startsWith('pg_tblspc/') && name !== 'pgsql_tmp') return false;
  return EXCLUDED_DIR_CONTENT.has(name);
}

/** True when this PGDATA file (relative path) is not backed up at all. */
export function skipsFile(rel: string): boolean {
  if (EXCLUDED_FILES.has(rel)) return true;
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  if (!/^(base|global|pg_tblspc)\//.test(rel)) return false;
  if (EXCLUDED_ANYWHERE.has(name)) return true;
  if (name.endsWith('_ptrack')) return true;
  // Temporary relations: t<backend>_<relfilenode>[...]
  return /^t\d+_\d+/.test(name);
}

export interface RelationFile {
  dbOid: number;
  relOid: number;
  fork: 'main' | 'vm' | 'fsm' | 'init' | 'ptrack';
  segno: number;
}

const REL_NAME = /^([1-9]\d{0,9})(?:_(vm|fsm|init|ptrack))?(?:\.([1-9]\d*))?$/;

/**
 * Parses a relation file path: global/<rel>, base/<db>/<rel>, pg_tblspc/<ts>/<ver>/<db>/<rel>.
 * Returns null for anything else (config files, pg_filenode.map, PG_VERSION, ...).
 */
export function parseRelationPath(rel: string): RelationFile | null {
  const parts = rel.split('/');
  let dbOid: number;
  let name: string;
  if (parts.length === 2 && parts[0] === 'global') {
    dbOid = 0;
    name = parts[1];
  } else if (parts.length === 3 && parts[0] === 'base') {
    dbOid = Number(parts[1]);
    name = parts[2];
  } else if (parts.length === 5 && parts[0] === 'pg_tblspc') {
    dbOid = Number(parts[3]);
    name = parts[4];
  } else {
    return null;
  }
  if (!Number.isInteger(dbOid)) return null;
  const m = REL_NAME.exec(name);
  if (!m) return null;
  const relOid = Number(m[1]);
  if (relOid > 0xffffffff) return null;
  return { dbOid, relOid, fork: (m[2] as RelationFile['fork']) ?? 'main', segno: m[3] ? Number(m[3]) : 0 };
}

/** The database OID a path belongs to (0 outside base/ and tablespaces). */
export function dbOidOf(rel: string): number {
  const parts = rel.split('/');
  if (parts[0] === 'base' && parts.length >= 2) return Number(parts[1]) || 0;
  if (parts[0] === 'pg_tblspc' && parts.length >= 4) return Number(parts[3]) || 0;
  return 0;
}

/**
 * Unlogged relations come back empty after a restore (from their init fork), so their main fork
 * and fsm are not worth copying: drop them where an _init fork exists in the same directory.
 */
export function dropUnloggedForks<T extends { path: string; externalDirNum: number }>(files: T[]): T[] {
  const unlogged = new Set<string>();
  for (const f of files) {
    if (f.externalDirNum !== 0) continue;
    const r = parseRelationPath(f.path);
    if (r && r.fork === 'init') unlogged.add(`${f.path.slice(0, f.path.lastIndexOf('/'))}/${r.relOid}`);
  }
  if (unlogged.size === 0) return files;
  return files.filter((f) => {
    if (f.externalDirNum !== 0) return true;
    const r = parseRelationPath(f.path);
    if (!r || (r.fork !== 'main' && r.fork !== 'fsm')) return true;
    return !unlogged.has(`${f.path.slice(0, f.path.lastIndexOf('/'))}/${r.relOid}`);
  });
}
