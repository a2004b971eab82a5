/**
 * The file list of a backup, made once inside the session and kept on disk: batches read it by
 * number, so a 100k-file cluster never travels through workflow payloads.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { catalogPaths } from '../../core/catalogPaths';
import { planBatches } from '../../core/batchPlan';
import { dbOidOf, dropUnloggedForks, parseRelationPath, skipsDirContent, skipsFile, type ClassifyOptions } from '../../core/fileClassify';

export interface PlanEntry {
  path: string;
  externalDirNum: number;
  mode: number;
  /** Size when listed. */
  size: number;
  isDir: boolean;
  isDatafile: boolean;
  dbOid: number;
  segno?: number;
}

export interface CopyPlan {
  entries: PlanEntry[];
  batches: number[][];
  pgdataBytes: number;
}

export const planFile = (backupDir: string) => path.join(catalogPaths.stateDir(backupDir), 'plan.json');
export const batchResultFile = (backupDir: string, n: number | string) => path.join(catalogPaths.stateDir(backupDir), 'batches', `${n}.json`);
export const batchHeaderFile = (backupDir: string, n: number | string) => path.join(catalogPaths.stateDir(backupDir), 'batches', `${n}.hdr`);

export function sourcePath(e: { path: string; externalDirNum: number }, pgdata: string, externalDirs: string[]): string {
  return e.externalDirNum === 0 ? path.join(pgdata, e.path) : path.join(externalDirs[e.externalDirNum - 1], e.path);
}

export function backupPath(e: { path: string; externalDirNum: number }, backupDir: string): string {
  return e.externalDirNum === 0
    ? path.join(catalogPaths.databaseDir(backupDir), e.path)
    : path.join(catalogPaths.externalDir(backupDir, e.externalDirNum), e.path);
}

async function walk(root: string, externalDirNum: number, opts: ClassifyOptions, out: PlanEntry[], warn: (m: string) => void): Promise<void> {
  const visit = async (rel: string): Promise<void> => {
    const dir = rel ? path.join(root, rel) : root;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && rel) return; // vanished (a dropped database)
      throw new Error(`cannot read directory "${dir}": ${(e as Error).message}`);
    }
    names.sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const full = path.join(root, childRel);
      let st;
      try {
        // Tablespace links (pg_tblspc/<oid>) and links in external dirs are followed, as pg_probackup does.
        st = await fs.stat(full);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new Error(`cannot stat "${full}": ${(e as Error).message}`);
      }
      if (name.startsWith('.') && externalDirNum === 0) {
        warn(`WARNING: skip hidden file: '${full}'`);
        continue;
      }
      if (st.isDirectory()) {
        out.push({ path: childRel, externalDirNum, mode: st.mode, size: 0, isDir: true, isDatafile: false, dbOid: externalDirNum ? 0 : dbOidOf(childRel) });
        if (externalDirNum === 0 && skipsDirContent(childRel, opts)) continue;
        await visit(childRel);
      } else if (st.isFile()) {
        if (externalDirNum === 0 && skipsFile(childRel)) continue;
        const rf = externalDirNum === 0 ? parseRelationPath(childRel) : null;
        const isDatafile = !!rf && rf.fork === 'main';
        out.push({
          path: childRel,
          externalDirNum,
          mode: st.mode,
          size: st.size,
          isDir: false,
          isDatafile,
          dbOid: externalDirNum ? 0 : dbOidOf(childRel),
          ...(isDatafile ? { segno: rf!.segno } : {}),
        });
      }
      // sockets, FIFOs, devices: skipped
    }
  };
  await visit('');
}

/** Lists PGDATA (following tablespaces) and the external directories; pure rules from core/. */
export async function listBackupFiles(pgdata: string, externalDirs: string[], opts: ClassifyOptions, warn: (m: string) => void = () => undefined): Promise<PlanEntry[]> {
  const out: PlanEntry[] = [];
  await walk(pgdata, 0, opts, out, warn);
  for (let i = 0; i < externalDirs.length; i++) await walk(externalDirs[i], i + 1, opts, out, warn);
  const files = dropUnloggedForks(out).filter((e) => !(e.externalDirNum === 0 && e.path === 'global/pg_control'));
  return files;
}

export function makeCopyPlan(entries: PlanEntry[]): CopyPlan {
  const fileIdx = entries.map((e, i) => (e.isDir ? -1 : i)).filter((i) => i >= 0);
  const batches = planBatches(fileIdx.map((i) => entries[i].size)).map((b) => b.map((j) => fileIdx[j]));
  const pgdataBytes = entries.reduce((s, e) => (e.externalDirNum === 0 ? s + (e.isDir ? 4096 : e.size) : s), 0);
  return { entries, batches, pgdataBytes };
}
