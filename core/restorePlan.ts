/**
 * Where each file of a backup goes on restore (spec §8.4): PGDATA, tablespaces through
 * tablespace_map and -T, external directories through --external-mapping. Pure; the activities
 * check the disk.
 */
import type { FileEntry } from './backupContent';
import { S_IFDIR, S_IFMT } from './backupContent';
import type { DirMapping } from './requests';

export interface Tablespace {
  oid: string;
  /** Location at backup time. */
  path: string;
}

/** tablespace_map lines: "<oid> <path>" (the path may contain spaces). */
export function parseTablespaceMap(text: string): Tablespace[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const i = l.indexOf(' ');
      return { oid: l.slice(0, i), path: l.slice(i + 1).replace(/\\(.)/g, '$1') };
    });
}

export interface RestoreTarget {
  /** Index into the entries. */
  entry: number;
  target: string;
}

export interface RestoreLayout {
  dirs: { target: string; mode: number }[];
  files: RestoreTarget[];
  links: { link: string; target: string }[];
  /** Directories that must be empty or absent before the restore writes: PGDATA, tablespaces, external dirs. */
  roots: string[];
}

export class RestorePlanError extends Error {}

function mapDir(dir: string, mappings: DirMapping[]): string {
  return mappings.find((m) => m.old === dir)?.new ?? dir;
}

/**
 * Files restored from elsewhere or never: the links are made from tablespace_map, not from it;
 * database_map describes the backup, not the cluster (pg_probackup leaves both out too).
 */
const NOT_RESTORED = new Set(['tablespace_map', 'database_map']);

export function planRestoreLayout(input: {
  entries: FileEntry[];
  pgdata: string;
  tablespaces: Tablespace[];
  backupExternalDirs: string[];
  tablespaceMapping: DirMapping[];
  externalMapping: DirMapping[];
  skipExternalDirs: boolean;
}): RestoreLayout {
  for (const m of input.tablespaceMapping) {
    if (!input.tablespaces.some((t) => t.path === m.old)) {
      throw new RestorePlanError(
        `--tablespace-mapping old directory "${m.old}" is not a tablespace of this backup` +
          (input.tablespaces.length ? ` (its tablespaces: ${input.tablespaces.map((t) => t.path).join(', ')})` : ' (it has none)'),
      );
    }
  }
  for (const m of input.externalMapping) {
    if (!input.backupExternalDirs.includes(m.old)) {
      throw new RestorePlanError(
        `--external-mapping old directory "${m.old}" is not an external directory of this backup` +
          (input.backupExternalDirs.length ? ` (its external directories: ${input.backupExternalDirs.join(', ')})` : ' (it has none)'),
      );
    }
  }
  const tsTarget = new Map(input.tablespaces.map((t) => [t.oid, mapDir(t.path, input.tablespaceMapping)]));
  const extTarget = input.backupExternalDirs.map((d) => mapDir(d, input.externalMapping));
  const layout: RestoreLayout = {
    dirs: [],
    files: [],
    links: [...tsTarget].map(([oid, target]) => ({ link: `${input.pgdata}/pg_tblspc/${oid}`, target })),
    roots: [input.pgdata, ...tsTarget.values(), ...(input.skipExternalDirs ? [] : extTarget)],
  };
  input.entries.forEach((e, i) => {
    let target: string;
    if (e.externalDirNum > 0) {
      if (input.skipExternalDirs) return;
      const root = extTarget[e.externalDirNum - 1];
      if (root === undefined) throw new RestorePlanError(`backup_content.control names external directory ${e.externalDirNum}, but backup.control lists ${extTarget.length}`);
      target = `${root}/${e.path}`;
    } else {
      if (NOT_RESTORED.has(e.path)) return;
      const m = /^pg_tblspc\/(\d+)(?:\/(.*))?$/.exec(e.path);
      if (m) {
        const root = tsTarget.get(m[1]);
        if (root === undefined) throw new RestorePlanError(`backup has files of tablespace ${m[1]}, which tablespace_map does not list`);
        if (m[2] === undefined) return; // the link itself
        target = `${root}/${m[2]}`;
      } else {
        target = `${input.pgdata}/${e.path}`;
      }
    }
    if ((e.mode & S_IFMT) === S_IFDIR) layout.dirs.push({ target, mode: e.mode & 0o7777 });
    else layout.files.push({ entry: i, target });
  });
  return layout;
}
