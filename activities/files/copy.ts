/**
 * Copy activities of a backup: planBackupCopy (list + batches on disk), copyBatch (one batch of
 * files, idempotent: every file goes to a temp name and is renamed; a batch that finished before
 * returns its recorded result), copyPgControl (last), assembleBackupContent (backup_content.control
 * and page_header_map from the batch results).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { backupContentCrc, serializeBackupContent, type FileEntry } from '../../core/backupContent';
import { catalogPaths } from '../../core/catalogPaths';
import { crc32c } from '../../core/crc32c';
import { PAGE_HEADER_SIZE, PageHeaderMapBuilder, writePageHeader } from '../../core/dataFileFormat';
import { pglzCompress } from '../../core/pglz';
import { pageChecksum, relationBlockNumber, verifyPage } from '../../core/pageChecksum';
import { parsePgControl } from '../../core/pgControl';
import { BLCKSZ, type CompressAlg } from '../../core/types';
import { AttemptGuard, removeStaleTempFiles } from '../attemptGuard';
import { fsyncDir, writeFileAtomic } from '../atomicWrite';
import { backupPath, batchHeaderFile, batchResultFile, listBackupFiles, makeCopyPlan, planFile, sourcePath, type CopyPlan, type PlanEntry } from './plan';

const CHUNK_PAGES = 128; // 1 MiB reads

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
  for (const e of entries) {
    if (e.isDir) await fs.mkdir(backupPath(e, input.backupDir), { recursive: true, mode: 0o700 });
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
}

export async function readPlan(backupDir: string): Promise<CopyPlan> {
  return JSON.parse(await fs.readFile(planFile(backupDir), 'utf8')) as CopyPlan;
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

/** Copies files into the backup; the entries and page header blobs they get. */
export async function copyFiles(files: PlanEntry[], input: CopyBatchInput, what: string, guard: AttemptGuard): Promise<BatchResult & { hdr: Buffer }> {
  const ctx = Context.current();
  const result: BatchResult = { files: 0, bytesRead: 0, entries: [], headers: {} };
  const hdrChunks: Buffer[] = [];
  let hdrOff = 0;
  const onBytes = (n: number) => {
    result.bytesRead += n;
    ctx.heartbeat({ what, bytesRead: result.bytesRead });
  };
  for (const e of files) {
    const src = sourcePath(e, input.pgdata, input.externalDirs);
    const dst = backupPath(e, input.backupDir);
    const copied = e.isDatafile
      ? await copyDataFile(src, dst, e.segno ?? 0, input, guard, onBytes)
      : await copyPlainFile(src, dst, e.mode, !input.noSync, guard, onBytes);
    if (!copied) continue; // vanished since listing: a dropped relation
    result.files++;
    const entry: FileEntry = {
      path: e.path,
      size: copied.writeSize,
      mode: e.mode,
      isDatafile: e.isDatafile,
      isCfs: false,
      crc: copied.crc,
      compressAlg: e.isDatafile ? copied.compressAlg : 'none',
      externalDirNum: e.externalDirNum,
      dbOid: e.dbOid,
      fullSize: copied.fullSize,
      ...(e.isDatafile ? { segno: e.segno ?? 0, nBlocks: copied.nBlocks } : {}),
    };
    if (copied.headerBlob) {
      entry.nHeaders = copied.nHeaders;
      entry.hdrCrc = copied.hdrCrc;
      result.headers[result.entries.length] = [hdrOff, copied.headerBlob.length];
      hdrChunks.push(copied.headerBlob);
      hdrOff += copied.headerBlob.length;
    }
    result.entries.push(entry);
  }
  return { ...result, hdr: Buffer.concat(hdrChunks) };
}

interface Copied {
  writeSize: number;
  fullSize: number;
  crc: number;
  compressAlg: CompressAlg;
  nBlocks?: number;
  nHeaders?: number;
  hdrCrc?: number;
  headerBlob?: Buffer;
}

async function openSource(src: string): Promise<fs.FileHandle | null> {
  try {
    return await fs.open(src, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot open "${src}": ${(e as Error).message}`);
  }
}

/** Non-data files: byte for byte, CRC of the content, the source's mode. */
async function copyPlainFile(src: string, dst: string, mode: number, sync: boolean, guard: AttemptGuard, onBytes: (n: number) => void): Promise<Copied | null> {
  const inFh = await openSource(src);
  if (!inFh) return null;
  const tmp = dst + guard.tmpSuffix;
  const outFh = await fs.open(tmp, 'w', 0o600).catch(async (e) => {
    await inFh.close();
    throw e;
  });
  let crc = 0;
  let total = 0;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await inFh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      crc = crc32c(chunk, crc);
      await outFh.write(chunk);
      total += bytesRead;
      onBytes(bytesRead);
    }
    await outFh.chmod(mode & 0o7777);
    if (sync) await outFh.sync();
  } finally {
    await inFh.close();
    await outFh.close();
  }
  await guard.commit(tmp, dst);
  return { writeSize: total, fullSize: total, crc, compressAlg: 'none' };
}

/**
 * Data files page by page (spec §5.1): every block of a FULL backup is stored with its header;
 * a page is compressed when that makes it smaller. The file is read up to its size at open: blocks
 * added later are in the WAL of the backup.
 */
async function copyDataFile(src: string, dst: string, segno: number, input: CopyBatchInput, guard: AttemptGuard, onBytes: (n: number) => void): Promise<Copied | null> {
  const inFh = await openSource(src);
  if (!inFh) return null;
  const tmp = dst + guard.tmpSuffix;
  const outFh = await fs.open(tmp, 'w', 0o600).catch(async (e) => {
    await inFh.close();
    throw e;
  });
  const compress = pageCompressor(input.compressAlg, input.compressLevel);
  const verify = !input.skipBlockValidation;
  const checksums = input.checksumVersion !== 0;
  const headers = new PageHeaderMapBuilder();
  let crc = 0;
  let pos = 0;
  let nBlocks = 0;
  // Two buffers each way: the next chunk is read and the previous one written while this one is
  // checked, so the disk and the CPU work at the same time.
  const inBufs = [Buffer.allocUnsafe(CHUNK_PAGES * BLCKSZ), Buffer.allocUnsafe(CHUNK_PAGES * BLCKSZ)];
  const outBufs = [Buffer.allocUnsafe(CHUNK_PAGES * (BLCKSZ + PAGE_HEADER_SIZE)), Buffer.allocUnsafe(CHUNK_PAGES * (BLCKSZ + PAGE_HEADER_SIZE))];
  let writing: Promise<unknown> = Promise.resolve();
  let reading: Promise<{ want: number; got: number }> | null = null;
  try {
    const size = (await inFh.stat()).size;
    const totalBlocks = Math.floor(size / BLCKSZ);
    const readChunk = (k: number, from: number) => {
      const want = Math.min(CHUNK_PAGES, totalBlocks - from) * BLCKSZ;
      return inFh.read(inBufs[k % 2], 0, want, from * BLCKSZ).then((r) => ({ want, got: r.bytesRead }));
    };
    reading = totalBlocks > 0 ? readChunk(0, 0) : null;
    for (let k = 0; reading; k++) {
      const { want, got } = await reading;
      const pages = Math.floor(got / BLCKSZ);
      // Fewer bytes than asked: truncated while we read, and the WAL replays the truncation.
      const last = pages === 0 || got < want || nBlocks + pages >= totalBlocks;
      reading = last ? null : readChunk(k + 1, nBlocks + pages);
      if (pages === 0) break;
      const buf = inBufs[k % 2];
      const out = outBufs[k % 2];
      let o = 0;
      for (let p = 0; p < pages; p++) {
        const page = buf.subarray(p * BLCKSZ, (p + 1) * BLCKSZ);
        const block = nBlocks + p;
        const relBlock = relationBlockNumber(segno, block);
        const checksum = verify ? await verifyOrReread(inFh, src, page, block, relBlock, checksums) : undefined;
        headers.addPage(page, 0, block, pos + o, checksum ?? pageChecksum(page, 0, relBlock));
        let payload: Buffer = page;
        if (compress) {
          const z = compress(page);
          if (z && z.length < BLCKSZ) payload = z;
        }
        writePageHeader(out, o, block, payload.length);
        payload.copy(out, o + PAGE_HEADER_SIZE);
        o += PAGE_HEADER_SIZE + payload.length;
      }
      const chunk = out.subarray(0, o);
      crc = crc32c(chunk, crc);
      await writing; // the other output buffer is free again
      writing = outFh.write(chunk);
      pos += o;
      nBlocks += pages;
      onBytes(pages * BLCKSZ);
    }
    await writing;
    if (!input.noSync) await outFh.sync();
  } finally {
    // A failure leaves a read or write in flight: let it end before its file is closed.
    await Promise.allSettled([writing, reading]);
    await inFh.close();
    await outFh.close();
  }
  if (nBlocks === 0) {
    // An empty relation: nothing stored (pg_probackup creates no file either).
    await fs.rm(tmp, { force: true });
    return { writeSize: 0, fullSize: 0, crc: 0, compressAlg: input.compressAlg, nBlocks: 0 };
  }
  await guard.commit(tmp, dst);
  const raw = headers.finish(pos);
  return {
    writeSize: pos,
    fullSize: nBlocks * BLCKSZ,
    crc,
    compressAlg: input.compressAlg,
    nBlocks,
    nHeaders: headers.count,
    hdrCrc: crc32c(raw),
    headerBlob: zlib.deflateSync(raw, { level: 1 }),
  };
}

/** Pages are compressed one by one (spec §5.2), so validation and restore work page by page. */
function pageCompressor(alg: CompressAlg, level: number): ((page: Buffer) => Buffer | null) | null {
  if (alg === 'zlib') return (page) => zlib.deflateSync(page, { level });
  if (alg === 'pglz') {
    return (page) => {
      const c = pglzCompress(page);
      return c ? Buffer.from(c.buffer, c.byteOffset, c.length) : null;
    };
  }
  return null;
}

const TORN_READ_RETRIES = 50;

/**
 * A page that fails verification may be one PostgreSQL is writing right now (a torn read): read it
 * again until it verifies; a page that stays bad is corruption and fails the backup. Returns the
 * page's checksum when it was computed.
 */
export async function verifyOrReread(fh: fs.FileHandle, file: string, page: Buffer, block: number, relBlock: number, checksums: boolean): Promise<number | undefined> {
  let v = verifyPage(page, 0, relBlock, checksums);
  for (let attempt = 0; v.verdict === 'bad-header' || v.verdict === 'bad-checksum'; attempt++) {
    if (attempt === TORN_READ_RETRIES) {
      const what = v.verdict === 'bad-checksum'
        ? `page verification failed, calculated checksum ${v.expected} but expected ${v.found}`
        : 'page header is invalid';
      throw ApplicationFailure.nonRetryable(
        `Corruption detected in file "${file}", block ${block}: ${what}. Check the cluster with pg_checksums or pg_amcheck; --skip-block-validation takes the backup anyway`,
        'CorruptPage',
      );
    }
    await new Promise((r) => setTimeout(r, 10));
    const { bytesRead } = await fh.read(page, 0, BLCKSZ, block * BLCKSZ);
    if (bytesRead < BLCKSZ) return undefined; // truncated meanwhile: the WAL replays the truncation
    v = verifyPage(page, 0, relBlock, checksums);
  }
  return v.expected;
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
  try {
    for (const name of names) {
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
    } else {
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
  for (const d of dirs) await fsyncDir(d).catch(() => undefined);
}
