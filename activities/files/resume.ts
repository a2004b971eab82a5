/**
 * A backup whose session was lost (its worker died, so PostgreSQL aborted pg_backup_start) goes on
 * under a new session with a new start LSN R2. The restore will replay WAL from R2 only, so every
 * page the backup holds must be as it was at some moment after R2's checkpoint began — or unchanged
 * since. Pages copied under the old session were copied after its start S1. A page that no WAL
 * record between S1 and R2 touches was not changed between its copy and R2, so the copy is still
 * right; a page some record touches may have changed after it was copied, so its file is copied
 * again. WAL records name every block they change (with full-page writes for the first change after
 * a checkpoint); hint bits alone are not logged, and a page differing only in them is still valid.
 * Files created, dropped, extended or truncated since the first listing are found by listing again
 * and comparing sizes: new files are copied, vanished ones dropped, resized ones copied again.
 * Non-data files are small and not covered by this argument (SLRUs, the relation map): all of them
 * are copied again.
 *
 * When the WAL since S1 is not all in the backup (a --temp-slot died with its session), which
 * pages changed is unknown: every data file is copied again.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { catalogPaths } from '../../core/catalogPaths';
import { lsnToBigInt, walFileName, type Lsn } from '../../core/lsn';
import { readWalRecords, type PageSource } from '../../core/walRecord';
import { BLCKSZ, RELSEG_SIZE } from '../../core/types';
import { activitySleep } from '../cancellableSleep';
import { copyFiles, readPlan, saveResult, type BatchResult, type CopyBatchInput } from './copy';
import { batchResultFile, listBackupFiles, type PlanEntry } from './plan';

const GLOBALTABLESPACE_OID = 1664;
const DEFAULTTABLESPACE_OID = 1663;

export interface RecopyInput extends CopyBatchInput {
  backupPgLog: boolean;
  backupPgReplslot: boolean;
  attempt: number;
  firstStartLsn: Lsn;
  newStartLsn: Lsn;
  /** First LSN from which the backup's WAL is complete, or null. */
  walContinuousSince: Lsn | null;
  timeline: number;
  walSegmentSize: number;
  rwTimeoutSec: number;
}

export interface RecopyResult {
  filesCopied: number;
  bytesRead: number;
  filesKept: number;
  bytesKept: number;
  filesDropped: number;
  changedBlocks: number;
  walBased: boolean;
}

/** Reads WAL pages from the backup's pg_wal, complete segments or the one being streamed. */
function backupWalSource(walDir: string, timeline: number, segSize: number): PageSource {
  let cachedSeg = -1n;
  let cached: Buffer | null = null;
  return (pageLsn) => {
    const segNo = pageLsn / BigInt(segSize);
    if (segNo !== cachedSeg) {
      const name = walFileName(timeline, segNo, segSize);
      const file = [path.join(walDir, name), path.join(walDir, `${name}.partial`)].find((f) => fs.existsSync(f));
      cached = file ? fs.readFileSync(file) : null;
      cachedSeg = segNo;
    }
    if (!cached) return null;
    const off = Number(pageLsn % BigInt(segSize));
    return off + 8192 <= cached.length ? cached.subarray(off, off + 8192) : null;
  };
}

/** PGDATA-relative path of a main-fork segment file, from a WAL block reference. */
function relationSegmentPath(spc: number, db: number, rel: number, segno: number, tablespaceDirs: Map<number, string>): string | null {
  const base = spc === GLOBALTABLESPACE_OID ? `global/${rel}` : spc === DEFAULTTABLESPACE_OID ? `base/${db}/${rel}` : tablespaceDirs.has(spc) ? `pg_tblspc/${spc}/${tablespaceDirs.get(spc)}/${db}/${rel}` : null;
  if (base === null) return null;
  return segno === 0 ? base : `${base}.${segno}`;
}

async function waitForWal(input: RecopyInput): Promise<void> {
  const alive = path.join(catalogPaths.stateDir(input.backupDir), 'session.alive');
  const want = lsnToBigInt(input.newStartLsn);
  const deadline = Date.now() + Math.max(60, input.rwTimeoutSec) * 1000;
  for (;;) {
    try {
      const a = JSON.parse(await fsp.readFile(alive, 'utf8')) as { attempt: number; receivedLsn: Lsn };
      if (a.attempt === input.attempt && lsnToBigInt(a.receivedLsn) >= want) return;
    } catch {
      /* being rewritten */
    }
    if (Date.now() > deadline) throw new Error(`the new backup session did not stream WAL up to its start LSN ${input.newStartLsn}`);
    Context.current().heartbeat({ phase: 'waiting for WAL of the new session' });
    await activitySleep(200);
  }
}

export async function recopyAfterSessionLoss(input: RecopyInput): Promise<RecopyResult> {
  const name = `r${input.attempt}`;
  const ctx = Context.current();
  const plan = await readPlan(input.backupDir);
  // What the backup holds now: the batches, and earlier resumes (in order).
  const held = new Map<string, { size: number; nBlocks?: number; isDatafile: boolean }>();
  const key = (e: { path: string; externalDirNum: number }) => `${e.externalDirNum}:${e.path}`;
  const resultsDir = path.dirname(batchResultFile(input.backupDir, 0));
  const resultNames = [...plan.batches.map((_, b) => String(b)), ...(await fsp.readdir(resultsDir)).filter((f) => /^r\d+\.json$/.test(f)).map((f) => f.slice(0, -5)).filter((n) => n !== name).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))];
  for (const n of resultNames) {
    let r: BatchResult;
    try {
      r = JSON.parse(await fsp.readFile(batchResultFile(input.backupDir, n), 'utf8')) as BatchResult;
    } catch {
      continue; // a batch the old session never finished: its files are not held
    }
    for (const e of r.entries) held.set(key(e), { size: e.size, nBlocks: e.nBlocks, isDatafile: e.isDatafile });
  }

  // Blocks changed between the first start and the new one, by relation segment file.
  const walBased = input.walContinuousSince !== null && lsnToBigInt(input.walContinuousSince) <= lsnToBigInt(input.firstStartLsn);
  const changed = new Set<string>();
  let changedBlocks = 0;
  if (walBased) {
    await waitForWal(input);
    const tablespaceDirs = new Map<number, string>();
    for (const oid of await fsp.readdir(path.join(input.pgdata, 'pg_tblspc')).catch(() => [] as string[])) {
      const sub = (await fsp.readdir(path.join(input.pgdata, 'pg_tblspc', oid)).catch(() => [] as string[])).find((d) => d.startsWith('PG_'));
      if (sub) tablespaceDirs.set(Number(oid), sub);
    }
    const walDir = path.join(catalogPaths.databaseDir(input.backupDir), 'pg_wal');
    let n = 0;
    for (const rec of readWalRecords(backupWalSource(walDir, input.timeline, input.walSegmentSize), lsnToBigInt(input.firstStartLsn), lsnToBigInt(input.newStartLsn))) {
      for (const b of rec.blocks) {
        if (b.fork !== 0) continue;
        const p = relationSegmentPath(b.spc, b.db, b.rel, Math.floor(b.blk / RELSEG_SIZE), tablespaceDirs);
        if (p) {
          changed.add(`0:${p}`);
          changedBlocks++;
        }
      }
      if (++n % 10000 === 0) ctx.heartbeat({ phase: 'reading WAL', records: n });
    }
  }

  const listing = await listBackupFiles(input.pgdata, input.externalDirs, input);
  const again: PlanEntry[] = [];
  let filesKept = 0;
  let bytesKept = 0;
  for (const e of listing) {
    if (e.isDir) continue;
    const h = held.get(key(e));
    const sameSize = h && h.isDatafile && e.isDatafile && (h.nBlocks ?? 0) === Math.floor(e.size / BLCKSZ);
    if (h && walBased && sameSize && !changed.has(key(e))) {
      filesKept++;
      bytesKept += e.size;
    } else {
      again.push(e);
    }
  }
  const listed = new Set(listing.map(key));
  const filesDropped = [...held.keys()].filter((k) => !listed.has(k)).length;
  const result = await copyFiles(again, input, 'resume');
  await saveResult(input.backupDir, name, { ...result, listing } as BatchResult & { hdr: Buffer }, !input.noSync);
  return { filesCopied: result.files, bytesRead: result.bytesRead, filesKept, bytesKept, filesDropped, changedBlocks, walBased };
}
