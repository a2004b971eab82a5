/**
 * checkdb's page check of a running cluster (pg_probackup's do_block_validation): every page of
 * every relation file in PGDATA read and verified as a backup verifies it (header, and checksum
 * when the cluster has data checksums), a page that fails read again in case PostgreSQL was writing
 * it. Plain file work for the CLI: checkdb writes nothing and needs no Temporal.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseRelationPath } from '../../core/fileClassify';
import { relationBlockNumber, verifyPage } from '../../core/pageChecksum';
import { BLCKSZ } from '../../core/types';
import { pageFailure, rereadTornPage } from '../files/copyFile';

export interface DataFile {
  /** Relative to PGDATA, as pg_probackup names files (tablespaces under pg_tblspc/<oid>/). */
  rel: string;
  abs: string;
  size: number;
  segno: number;
}

async function entries(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    // A database or table dropped while we look is not the cluster's corruption.
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return [] as string[];
    throw e;
  });
}

/** The relation files of every fork: global/, base/<db>/ and each tablespace's <version>/<db>/. */
export async function listDataFiles(pgdata: string): Promise<DataFile[]> {
  const dirs: string[] = ['global', ...(await entries(path.join(pgdata, 'base'))).map((d) => `base/${d}`)];
  for (const ts of await entries(path.join(pgdata, 'pg_tblspc'))) {
    for (const ver of await entries(path.join(pgdata, 'pg_tblspc', ts))) {
      for (const db of await entries(path.join(pgdata, 'pg_tblspc', ts, ver))) dirs.push(`pg_tblspc/${ts}/${ver}/${db}`);
    }
  }
  const out: DataFile[] = [];
  for (const dir of dirs) {
    for (const name of await entries(path.join(pgdata, dir))) {
      const rel = `${dir}/${name}`;
      const r = parseRelationPath(rel);
      if (!r) continue;
      const st = await fs.stat(path.join(pgdata, rel)).catch(() => null);
      if (!st?.isFile()) continue;
      out.push({ rel, abs: path.join(pgdata, rel), size: st.size, segno: r.segno });
    }
  }
  return out;
}

/**
 * Verifies every page of `f`; `onBad` hears of each page that stays bad after the rereads. The
 * pages read. A file that is shorter than it was (truncated, dropped) ends the check of it.
 */
export async function checkDataFile(f: DataFile, checksums: boolean, onBad: (block: number, what: string) => void): Promise<number> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(f.abs, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  const chunk = Buffer.alloc(128 * BLCKSZ);
  const page = Buffer.alloc(BLCKSZ);
  let block = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, block * BLCKSZ);
      const pages = Math.floor(bytesRead / BLCKSZ);
      for (let i = 0; i < pages; i++, block++) {
        const relBlock = relationBlockNumber(f.segno, block);
        const v = verifyPage(chunk, i * BLCKSZ, relBlock, checksums);
        if (v.verdict !== 'bad-header' && v.verdict !== 'bad-checksum') continue;
        chunk.copy(page, 0, i * BLCKSZ, (i + 1) * BLCKSZ);
        const again = await rereadTornPage({ read: (b, o, l, p) => fh.read(b, o, l, p) }, page, block, relBlock, checksums);
        if (again && (again.verdict === 'bad-header' || again.verdict === 'bad-checksum')) onBad(block, pageFailure(again));
      }
      if (bytesRead < chunk.length) return block;
    }
  } finally {
    await fh.close();
  }
}
