/**
 * Copy activities of a backup: planBackupCopy (list + batches on disk), copyBatch (one batch of
 * files, idempotent: every file goes to a temp name and is renamed; a batch that finished before
 * returns its recorded result), copyPgControl (last), assembleBackupContent (backup_content.control
 * and page_header_map from the batch results).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { backupContentCrc, serializeBackupContent, type FileEntry } from '../../core/backupContent';
import { catalogPaths } from '../../core/catalogPaths';
import { crc32c } from '../../core/crc32c';
import { parsePgControl } from '../../core/pgControl';
import type { CompressAlg } from '../../core/types';
import { AttemptGuard, removeStaleTempFiles } from '../attemptGuard';
import { fsyncDir, writeFileAtomic } from '../atomicWrite';
import { filePool, mapInFlight } from '../threads/pool';
import type { Copied, DataFileOptions } from './copyFile';
import { copyDataFileInPieces } from './copyPieces';
import { incrementalDataSize } from '../../core/deltaPlan';
import { deltaFilters, type DeltaSource } from './deltaParent';
import { backupPath, batchHeaderFile, batchResultFile, listBackupFiles, makeCopyPlan, planFile, sourcePath, type CopyPlan, type PlanEntry } from './plan';
import { heartbeatEvery } from '../heartbeat';

export async function planBackupCopy(input: {
  backupDir: string;
  pgdata: string;
  externalDirs: string[];
  backupPgLog: boolean;
  backupPgReplslot: boolean;
}): Promise<{ nFiles: number; nBatches: number; totalBytes: number; pgdataBytes: number; warnings: string[] }> {
  const warnings: string[] = [];
  const entries = await listBackupFiles(input.pgdata, input.externalDirs, input, (m) => warnings.push(m));
  if (entries.filter((e) => e.externalDirNum === 0).length < 100) {
    throw ApplicationFailure.nonRetryable(`PGDATA "${input.pgdata}" is almost empty: is it the data directory of the instance?`, 'BadPgdata');
  }
  const plan = makeCopyPlan(entries);
  const beat = heartbeater();
  for (const e of entries) {
    if (e.isDir) await fs.mkdir(backupPath(e, input.backupDir), { recursive: true, mode: 0o700 });
    beat();
  }
  await fs.mkdir(path.join(catalogPaths.stateDir(input.backupDir), 'batches'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(planFile(input.backupDir), JSON.stringify(plan));
  const files = entries.filter((e) => !e.isDir);
  return {
    nFiles: files.length,
    nBatches: plan.batches.length,
    totalBytes: files.reduce((s, e) => s + e.size, 0),
    pgdataBytes: plan.pgdataBytes + 8192,
    warnings,
  };
}

export interface BatchResult {
  files: number;
  bytesRead: number;
  entries: FileEntry[];
  /** Per entry index in `entries`: [offset, length] of its header blob in the batch's .hdr file. */
  headers: Record<number, [number, number]>;
}

export interface CopyBatchInput {
  backupDir: string;
  pgdata: string;
  externalDirs: string[];
  batchNo: number;
  compressAlg: CompressAlg;
  compressLevel: number;
  checksumVersion: number;
  skipBlockValidation: boolean;
  noSync: boolean;
  /** -j: file threads may outnumber the cores when asked. */
  threads?: number;
  /** DELTA: store only the pages that may differ from the parent's (core/deltaPlan.ts). */
  delta?: DeltaSource;
}

/**
 * The plan prepareBackup saved. Its loss means the backup's directory was removed while the backup
 * ran: no retry brings it back, so that is said at once.
 */
export async function readPlan(backupDir: string): Promise<CopyPlan> {
  try {
    return JSON.parse(await fs.readFile(planFile(backupDir), 'utf8')) as CopyPlan;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw ApplicationFailure.nonRetryable(
      `the backup's plan "${planFile(backupDir)}" is gone: "${backupDir}" was removed or changed while the backup ran; run the backup again`,
      'BackupPlanLost',
    );
  }
}

export async function copyBatch(input: CopyBatchInput): Promise<{ files: number; bytesRead: number }> {
  const done = batchResultFile(input.backupDir, input.batchNo);
  try {
    const prev = JSON.parse(await fs.readFile(done, 'utf8')) as BatchResult;
    return { files: prev.files, bytesRead: prev.bytesRead };
  } catch {
    /* not done yet */
  }
  const plan = await readPlan(input.backupDir);
  const guard = await AttemptGuard.claim(`${done}.claim`);
  const result = await copyFiles(plan.batches[input.batchNo].map((i) => plan.entries[i]), input, `batch ${input.batchNo}`, guard);
  await guard.check();
  await saveResult(input.backupDir, String(input.batchNo), result, !input.noSync);
  return { files: result.files, bytesRead: result.bytesRead };
}

export async function saveResult(backupDir: string, name: string, result: BatchResult & { hdr: Buffer }, sync: boolean): Promise<void> {
  const { hdr, ...rest } = result;
  await writeFileAtomic(batchHeaderFile(backupDir, name), hdr, { sync });
  await writeFileAtomic(batchResultFile(backupDir, name), JSON.stringify(rest), { sync });
}

/** Files up to this size go to the threads by the group (copySmallFiles), up to these limits. */
const SMALL_FILE = 256 << 10;
const GROUP_FILES = 32;
const GROUP_BYTES = 2 << 20;

/** The jobs of a batch: groups of consecutive small files, and each larger file alone. */
function workUnits(files: PlanEntry[]): number[][] {
  const units: number[][] = [];
  let group: number[] = [];
  let bytes = 0;
  const close = () => {
    if (group.length) units.push(group);
    group = [];
    bytes = 0;
  };
  files.forEach((e, i) => {
    if (e.size > SMALL_FILE) {
      units.push([i]);
      return;
    }
    if (group.length >= GROUP_FILES || bytes + e.size > GROUP_BYTES) close();
    group.push(i);
    bytes += e.size;
  });
  close();
  return units;
}

/** Only what the file thread needs crosses to it. */
function fileOptions(o: CopyBatchInput): DataFileOptions {
  return { compressAlg: o.compressAlg, compressLevel: o.compressLevel, checksumVersion: o.checksumVersion, skipBlockValidation: o.skipBlockValidation, noSync: o.noSync };
}

/**
 * Copies files into the backup on the file threads, as many jobs in flight as the threads take:
 * small files by the group, a large data file in pieces (copyPieces.ts), others one by one. The
 * entries and page header blobs they get, in the files' order.
 */
export async function copyFiles(files: PlanEntry[], input: CopyBatchInput, what: string, guard: AttemptGuard): Promise<BatchResult & { hdr: Buffer }> {
  const ctx = Context.current();
  const beat = heartbeatEvery(ctx);
  const result: BatchResult = { files: 0, bytesRead: 0, entries: [], headers: {} };
  const onBytes = (n: number) => {
    result.bytesRead += n;
    beat({ what, bytesRead: result.bytesRead });
  };
  const pool = filePool();
  pool.allow(input.threads ?? 1);
  const deltaOf = input.delta ? await deltaFilters(input.delta) : null;
  const deltas = files.map((e) => (e.isDatafile && deltaOf ? deltaOf(e) : null));
  const copied = new Array<Copied | null>(files.length);
  const fileArgs = (e: PlanEntry, i: number) => {
    const dst = backupPath(e, input.backupDir);
    return { src: sourcePath(e, input.pgdata, input.externalDirs), dst, tmp: dst + guard.tmpSuffix, filter: deltas[i]?.filter };
  };
  await mapInFlight(workUnits(files), pool.capacity, async (unit) => {
    if (unit.length > 1 || files[unit[0]].size <= SMALL_FILE) {
      const group = unit.map((i) => ({ ...fileArgs(files[i], i), mode: files[i].mode, segno: files[i].isDatafile ? files[i].segno ?? 0 : undefined }));
      const rs = await pool.run('copySmallFiles', { files: group, opts: fileOptions(input), claim: guard.claim }, onBytes, ctx.cancellationSignal);
      unit.forEach((i, k) => (copied[i] = rs[k]));
      return;
    }
    const i = unit[0];
    const e = files[i];
    const { src, dst, tmp, filter } = fileArgs(e, i);
    try {
      const c = e.isDatafile
        ? await copyDataFileInPieces(
          { src, tmp, segno: e.segno ?? 0, opts: fileOptions(input), filter },
          (k) => `${dst}.piece${k}${guard.tmpSuffix}`,
          onBytes,
          ctx.cancellationSignal,
        )
        : await pool.run('copyPlainFile', { src, tmp, mode: e.mode, sync: !input.noSync }, onBytes, ctx.cancellationSignal);
      if (c?.stored) await guard.commit(tmp, dst);
      copied[i] = c;
    } catch (err) {
      await fs.rm(tmp, { force: true }); // failed, cancelled or superseded: its temp file goes with it
      throw err;
    }
  });
  const hdrChunks: Buffer[] = [];
  let hdrOff = 0;
  files.forEach((e, i) => {
    const c = copied[i];
    if (!c) return; // vanished since listing: a dropped relation
    result.files++;
    const entry: FileEntry = {
      path: e.path,
      size: deltas[i] ? incrementalDataSize(c.writeSize, c.nHeaders ?? 0, c.nBlocks ?? 0, deltas[i]!.inParent) : c.writeSize,
      mode: e.mode,
      isDatafile: e.isDatafile,
      isCfs: false,
      crc: c.crc,
      compressAlg: e.isDatafile ? c.compressAlg : 'none',
      externalDirNum: e.externalDirNum,
      dbOid: e.dbOid,
      fullSize: c.fullSize,
      ...(e.isDatafile ? { segno: e.segno ?? 0, nBlocks: c.nBlocks } : {}),
    };
    if (c.headerBlob) {
      entry.nHeaders = c.nHeaders;
      entry.hdrCrc = c.hdrCrc;
      result.headers[result.entries.length] = [hdrOff, c.headerBlob.length];
      hdrChunks.push(Buffer.from(c.headerBlob.buffer, c.headerBlob.byteOffset, c.headerBlob.length));
      hdrOff += c.headerBlob.length;
    }
    result.entries.push(entry);
  });
  return { ...result, hdr: Buffer.concat(hdrChunks) };
}

/** global/pg_control goes last, raw; its entry's crc is the one stored inside it (spec §4). */
export async function copyPgControl(input: { backupDir: string; pgdata: string; noSync: boolean }): Promise<FileEntry> {
  const src = path.join(input.pgdata, 'global', 'pg_control');
  const buf = await fs.readFile(src);
  const st = await fs.stat(src);
  const dst = path.join(catalogPaths.databaseDir(input.backupDir), 'global', 'pg_control');
  await fs.mkdir(path.dirname(dst), { recursive: true, mode: 0o700 });
  await writeFileAtomic(dst, buf, { sync: !input.noSync, mode: st.mode & 0o7777 });
  return {
    path: 'global/pg_control',
    size: buf.length,
    mode: st.mode,
    isDatafile: false,
    isCfs: false,
    crc: parsePgControl(buf).crc,
    compressAlg: 'none',
    externalDirNum: 0,
    dbOid: 0,
  };
}

export interface ContentSums {
  dataBytes: number;
  walBytes: number;
  uncompressedBytes: number;
  pgdataBytes: number;
  contentCrc: number;
}

/**
 * Writes backup_content.control and page_header_map from the plan and the batch results, plus
 * files made outside the batches (backup_label, tablespace_map, streamed WAL) and pg_control.
 */
export async function assembleBackupContent(input: { backupDir: string; extraFiles: string[]; pgControl: FileEntry; noSync?: boolean }): Promise<ContentSums> {
  const sync = !input.noSync;
  const plan = await readPlan(input.backupDir);
  const dirs = [
    catalogPaths.databaseDir(input.backupDir),
    ...plan.entries.filter((e) => e.isDir).map((e) => backupPath(e, input.backupDir)),
    ...plan.entries.filter((e) => e.externalDirNum > 0).map((e) => catalogPaths.externalDir(input.backupDir, e.externalDirNum)),
  ];
  await removeStaleTempFiles(dirs, /\.gs_tmp\d+$/);
  // The copy's results in order: the batches, then what a resumed backup copied again (with the
  // listing it made then, which is the final list of files and directories).
  const names = plan.batches.map((_, b) => String(b));
  let listing = plan.entries;
  const resumes = (await fs.readdir(path.dirname(batchResultFile(input.backupDir, '0'))))
    .filter((f) => /^r\d+\.json$/.test(f))
    .map((f) => f.slice(0, -5))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  names.push(...resumes);
  const key = (e: { path: string; externalDirNum: number }) => `${e.externalDirNum}:${e.path}`;
  const files = new Map<string, FileEntry>();
  const mapTmp = `${catalogPaths.pageHeaderMap(input.backupDir)}.tmp`;
  const mapFh = await fs.open(mapTmp, 'w', 0o600);
  let mapOff = 0;
  const beat = heartbeater();
  try {
    for (const name of names) {
      beat();
      const r = JSON.parse(await fs.readFile(batchResultFile(input.backupDir, name), 'utf8')) as BatchResult & { listing?: PlanEntry[] };
      if (r.listing) listing = r.listing;
      const hdr = await fs.readFile(batchHeaderFile(input.backupDir, name));
      r.entries.forEach((entry, i) => {
        const h = r.headers[i];
        if (h) {
          entry.hdrOff = mapOff + h[0];
          entry.hdrSize = h[1];
        }
        files.set(key(entry), entry);
      });
      await mapFh.write(hdr);
      mapOff += hdr.length;
    }
    if (sync) await mapFh.sync();
  } finally {
    await mapFh.close();
  }
  await fs.rename(mapTmp, catalogPaths.pageHeaderMap(input.backupDir));
  const entries: FileEntry[] = [];
  for (const e of listing) {
    if (e.isDir) {
      entries.push({ path: e.path, size: 0, mode: e.mode, isDatafile: false, isCfs: false, crc: 0, compressAlg: 'none', externalDirNum: e.externalDirNum, dbOid: e.dbOid });
    } else {
      const f = files.get(key(e));
      if (f) entries.push(f); // absent: vanished while copied
    }
  }

  const dbDir = catalogPaths.databaseDir(input.backupDir);
  for (const rel of input.extraFiles) {
    const file = path.join(dbDir, rel);
    const content = await fs.readFile(file);
    const st = await fs.stat(file);
    entries.push({
      path: rel, size: content.length, mode: st.mode, isDatafile: false, isCfs: false, crc: crc32c(content),
      compressAlg: 'none', externalDirNum: 0, dbOid: 0,
    });
  }
  entries.push(input.pgControl);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.externalDirNum - b.externalDirNum));

  let dataBytes = 0;
  let walBytes = 0;
  let uncompressedBytes = 0;
  for (const e of entries) {
    if ((e.mode & 0o170000) === 0o040000) {
      dataBytes += 4096;
      uncompressedBytes += 4096;
    } else if (e.externalDirNum === 0 && e.path.startsWith('pg_wal/')) {
      walBytes += e.size;
    } else if (e.size > 0) {
      // -1: unchanged since the parent, nothing stored here
      dataBytes += e.size;
      uncompressedBytes += e.fullSize ?? e.size;
    }
  }
  const text = serializeBackupContent(entries);
  await writeFileAtomic(catalogPaths.backupContent(input.backupDir), text, { sync, mode: 0o600 });
  if (sync) await fsyncAll(input.backupDir, plan);
  return { dataBytes, walBytes, uncompressedBytes, pgdataBytes: plan.pgdataBytes + input.pgControl.size, contentCrc: backupContentCrc(text) };
}

/** Renames are durable only once their directories are synced. */
async function fsyncAll(backupDir: string, plan: CopyPlan): Promise<void> {
  const dirs = new Set<string>([backupDir, catalogPaths.databaseDir(backupDir), path.join(catalogPaths.databaseDir(backupDir), 'pg_wal')]);
  for (const e of plan.entries) {
    const p = backupPath(e, backupDir);
    dirs.add(e.isDir ? p : path.dirname(p));
  }
  const beat = heartbeater();
  for (const d of dirs) {
    await fsyncDir(d).catch(() => undefined);
    beat();
  }
}

/**
 * Heartbeats for the catalog steps of a backup, which are short on a small cluster and long on one
 * with 100k files: a worker that dies in one is noticed after the heartbeat timeout, not an hour.
 */
function heartbeater(): () => void {
  const ctx = Context.current();
  let n = 0;
  return () => {
    if (++n % 256 === 0) ctx.heartbeat();
  };
}
