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
import * as zlib from 'node:zlib';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { FileEntry } from '../../core/backupContent';
import { crc32c, crc32cPatch } from '../../core/crc32c';
import { PAGE_HEADER2_SIZE, PAGE_HEADER_SIZE, pageLsn, writePageHeader } from '../../core/dataFileFormat';
import { pageChecksum, relationBlockNumber } from '../../core/pageChecksum';
import { AttemptGuard } from '../attemptGuard';
import { writeFileAtomic } from '../atomicWrite';
import { catalogPaths } from '../../core/catalogPaths';
import { lsnToBigInt, walFileName, type Lsn } from '../../core/lsn';
import { readWalRecords, type PageSource } from '../../core/walRecord';
import { BLCKSZ, RELSEG_SIZE } from '../../core/types';
import { activitySleep } from '../cancellableSleep';
import { readAlive, readSession } from '../postgres/backupSession';
import { copyFiles, readPlan, saveResult, type BatchResult, type CopyBatchInput } from './copy';
import { verifyOrReread } from './copyFile';
import { backupPath, batchHeaderFile, batchResultFile, listBackupFiles, sourcePath, type PlanEntry } from './plan';

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
  /** Bytes read from the database again: whole files copied, plus changed pages patched. */
  bytesRead: number;
  filesPatched: number;
  bytesPatched: number;
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
  const want = lsnToBigInt(input.newStartLsn);
  const deadline = Date.now() + Math.max(60, input.rwTimeoutSec) * 1000;
  for (;;) {
    const session = await readSession(input.backupDir);
    if (session && session.attempt !== input.attempt) {
      // The session this resume was for was lost too: the workflow resumes again under the newer one.
      throw ApplicationFailure.nonRetryable(
        `backup session attempt ${input.attempt} was superseded by attempt ${session.attempt} before it streamed WAL up to its start LSN ${input.newStartLsn}`,
        'SessionSuperseded',
      );
    }
    const alive = await readAlive(input.backupDir, input.attempt);
    if (alive && lsnToBigInt(alive.receivedLsn) >= want) return;
    if (Date.now() > deadline) throw new Error(`the new backup session did not stream WAL up to its start LSN ${input.newStartLsn}`);
    Context.current().heartbeat({ phase: 'waiting for WAL of the new session' });
    await activitySleep(200);
  }
}

/**
 * Puts back the original pages a resume patched before it could record its result (it failed, or
 * yet another session loss superseded it): the recorded CRCs describe the files as they were.
 */
async function rollBackUnfinishedPatches(backupDir: string): Promise<void> {
  const state = catalogPaths.stateDir(backupDir);
  for (const d of (await fsp.readdir(state)).filter((n) => /^undo-r\d+$/.test(n))) {
    if (fs.existsSync(batchResultFile(backupDir, d.slice(5)))) {
      await fsp.rm(path.join(state, d), { recursive: true, force: true });
      continue;
    }
    for (const f of await fsp.readdir(path.join(state, d))) {
      if (f.includes('.tmp.')) continue;
      const k = decodeURIComponent(f);
      const sep = k.indexOf(':');
      const dst = backupPath({ externalDirNum: Number(k.slice(0, sep)), path: k.slice(sep + 1) }, backupDir);
      const saved = await fsp.readFile(path.join(state, d, f));
      const fh = await fsp.open(dst, 'r+');
      try {
        for (let o = 8; o + 4 + BLCKSZ <= saved.length; o += 4 + BLCKSZ) {
          await fh.write(saved, o + 4, BLCKSZ, saved.readUInt32LE(o) * (BLCKSZ + PAGE_HEADER_SIZE) + PAGE_HEADER_SIZE);
        }
        await fh.truncate(Number(saved.readBigUInt64LE(0)));
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await fsp.rm(path.join(state, d), { recursive: true, force: true });
  }
}

export async function recopyAfterSessionLoss(input: RecopyInput): Promise<RecopyResult> {
  const name = `r${input.attempt}`;
  const ctx = Context.current();
  // Claimed before the rollback, so that a stale attempt stops patching before its patches are undone.
  const guard = await AttemptGuard.claim(`${batchResultFile(input.backupDir, name)}.claim`);
  await rollBackUnfinishedPatches(input.backupDir);
  const plan = await readPlan(input.backupDir);
  // What the backup holds now: the batches, and earlier resumes (in order).
  const held = new Map<string, { entry: FileEntry; result: string; index: number }>();
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
    r.entries.forEach((e, index) => held.set(key(e), { entry: e, result: n, index }));
  }

  // Blocks changed between the first start and the new one, by relation segment file.
  let walBased = input.walContinuousSince !== null && lsnToBigInt(input.walContinuousSince) <= lsnToBigInt(input.firstStartLsn);
  const changed = new Map<string, Set<number>>();
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
    let scannedTo = lsnToBigInt(input.firstStartLsn);
    for (const rec of readWalRecords(backupWalSource(walDir, input.timeline, input.walSegmentSize), lsnToBigInt(input.firstStartLsn), lsnToBigInt(input.newStartLsn), input.walSegmentSize)) {
      scannedTo = rec.end;
      for (const b of rec.blocks) {
        if (b.fork !== 0) continue;
        const p = relationSegmentPath(b.spc, b.db, b.rel, Math.floor(b.blk / RELSEG_SIZE), tablespaceDirs);
        if (p) {
          const k = `0:${p}`;
          let set = changed.get(k);
          if (!set) changed.set(k, (set = new Set()));
          const inSeg = b.blk % RELSEG_SIZE;
          if (!set.has(inSeg)) {
            set.add(inSeg);
            changedBlocks++;
          }
        }
      }
      if (++n % 10000 === 0) ctx.heartbeat({ phase: 'reading WAL', records: n });
    }
    // The reader stops quietly at whatever it cannot read (a missing or short segment, a bad CRC).
    // A scan that ended early proves nothing about the pages after it: copy everything again.
    if (scannedTo < lsnToBigInt(input.newStartLsn)) {
      walBased = false;
      changed.clear();
      changedBlocks = 0;
    }
  }

  const listing = await listBackupFiles(input.pgdata, input.externalDirs, input);
  const again: PlanEntry[] = [];
  const patched: { entry: FileEntry; blob: Buffer }[] = [];
  let filesKept = 0;
  let bytesKept = 0;
  let bytesPatched = 0;
  for (const e of listing) {
    if (e.isDir) continue;
    const h = held.get(key(e));
    const old = h?.entry;
    const curBlocks = Math.floor(e.size / BLCKSZ);
    // A data file that grew keeps its pages and gets the new ones appended; one that shrank is copied again.
    const patchable = !!old && old.isDatafile && e.isDatafile && curBlocks >= (old.nBlocks ?? 0);
    if (!h || !old || !walBased || !patchable) {
      again.push(e);
      continue;
    }
    const blocks = changed.get(key(e)) ?? (curBlocks > (old.nBlocks ?? 0) ? new Set<number>() : undefined);
    if (!blocks) {
      filesKept++;
      bytesKept += e.size;
      continue;
    }
    await guard.check();
    const p = await patchDataFile(input, e, h, [...blocks].sort((a, b) => a - b));
    if (p) {
      patched.push(p);
      bytesPatched += p.bytesRead;
    } else {
      again.push(e);
    }
    ctx.heartbeat({ phase: 'patching changed pages', bytesPatched });
  }
  const listed = new Set(listing.map(key));
  const filesDropped = [...held.keys()].filter((k) => !listed.has(k)).length;
  const result = await copyFiles(again, input, 'resume', guard);
  // Patched data files join the result with their new header blobs.
  let hdrOff = result.hdr.length;
  const blobs: Buffer[] = [result.hdr];
  for (const p of patched) {
    result.headers[result.entries.length] = [hdrOff, p.blob.length];
    result.entries.push(p.entry);
    blobs.push(p.blob);
    hdrOff += p.blob.length;
  }
  const copiedBytes = result.bytesRead;
  result.bytesRead += bytesPatched;
  await guard.check();
  await saveResult(input.backupDir, name, { ...result, hdr: Buffer.concat(blobs), listing } as BatchResult & { hdr: Buffer }, !input.noSync);
  await fsp.rm(undoDir(input.backupDir, input.attempt), { recursive: true, force: true });
  return {
    filesCopied: result.files,
    bytesRead: copiedBytes + bytesPatched,
    filesKept,
    bytesKept,
    filesPatched: patched.length,
    bytesPatched,
    filesDropped,
    changedBlocks,
    walBased,
  };
}

const undoDir = (backupDir: string, attempt: number) => path.join(catalogPaths.stateDir(backupDir), `undo-r${attempt}`);

/**
 * Rewrites the changed pages of an uncompressed data file in place (every record is 8 + 8192
 * bytes, block i at i × 8200), updating its CRC from the old one (crc32cPatch) and its page
 * headers, so neither the rest of the database file nor of the backup file is read. The original
 * records go to an undo file first: a retry puts them back before patching again, so the CRC
 * arithmetic always starts from the state the old CRC describes. Null: not patchable (compressed,
 * or the file shrank meanwhile), copy it whole instead.
 */
async function patchDataFile(
  input: RecopyInput,
  e: PlanEntry,
  h: { entry: FileEntry; result: string; index: number },
  changedBlocks: number[],
): Promise<{ entry: FileEntry; blob: Buffer; bytesRead: number } | null> {
  const old = h.entry;
  const nBlocks = old.nBlocks ?? 0;
  const REC = BLCKSZ + PAGE_HEADER_SIZE;
  if (old.compressAlg !== 'none' || old.size !== nBlocks * REC) return null;
  const blocks = changedBlocks.filter((b) => b < nBlocks);
  let headers: Buffer;
  if (nBlocks > 0) {
    const r = JSON.parse(await fsp.readFile(batchResultFile(input.backupDir, h.result), 'utf8')) as BatchResult;
    const where = r.headers[h.index];
    if (!where) return null;
    const hdrFile = await fsp.open(batchHeaderFile(input.backupDir, h.result), 'r');
    const blobOld = Buffer.alloc(where[1]);
    try {
      await hdrFile.read(blobOld, 0, where[1], where[0]);
    } finally {
      await hdrFile.close();
    }
    headers = zlib.inflateSync(blobOld);
  } else {
    headers = Buffer.alloc(0);
  }

  const undoRoot = undoDir(input.backupDir, input.attempt);
  await fsp.mkdir(undoRoot, { recursive: true, mode: 0o700 });
  const undo = path.join(undoRoot, encodeURIComponent(`${e.externalDirNum}:${e.path}`));
  const src = sourcePath(e, input.pgdata, input.externalDirs);
  const dst = backupPath(e, input.backupDir);
  const inFh = await fsp.open(src, 'r');
  const outFh = await fsp.open(dst, nBlocks > 0 ? 'r+' : 'w', 0o600);
  let bytesRead = 0;
  try {
    const saved = Buffer.alloc(8 + blocks.length * (4 + BLCKSZ));
    saved.writeBigUInt64LE(BigInt(old.size), 0);
    for (let i = 0; i < blocks.length; i++) {
      const o = 8 + i * (4 + BLCKSZ);
      saved.writeUInt32LE(blocks[i], o);
      await outFh.read(saved, o + 4, BLCKSZ, blocks[i] * REC + PAGE_HEADER_SIZE);
    }
    await writeFileAtomic(undo, saved, { sync: !input.noSync });

    let crc = old.crc;
    const page = Buffer.alloc(BLCKSZ);
    const checksums = input.checksumVersion !== 0;
    const entries = Buffer.alloc(Math.max(nBlocks, 0) * PAGE_HEADER2_SIZE);
    headers.copy(entries, 0, 0, entries.length);
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i];
      const { bytesRead: got } = await inFh.read(page, 0, BLCKSZ, b * BLCKSZ);
      if (got < BLCKSZ) return null; // truncated since the listing
      bytesRead += BLCKSZ;
      const relBlock = relationBlockNumber(e.segno ?? 0, b);
      if (!input.skipBlockValidation) await verifyOrReread(inFh, src, page, b, relBlock, checksums);
      const at = b * REC + PAGE_HEADER_SIZE;
      crc = crc32cPatch(crc, saved.subarray(8 + i * (4 + BLCKSZ) + 4, 8 + (i + 1) * (4 + BLCKSZ)), page, old.size - at - BLCKSZ);
      await outFh.write(page, 0, BLCKSZ, at);
      entries.writeBigUInt64LE(pageLsn(page), b * PAGE_HEADER2_SIZE);
      entries.writeUInt16LE(pageChecksum(page, 0, relBlock), b * PAGE_HEADER2_SIZE + 16);
    }
    // Blocks added since the copy are appended: the CRC simply continues over them.
    const curBlocks = Math.floor((await inFh.stat()).size / BLCKSZ);
    const added: Buffer[] = [];
    const rec = Buffer.alloc(REC);
    for (let b = nBlocks; b < curBlocks; b++) {
      const { bytesRead: got } = await inFh.read(rec, PAGE_HEADER_SIZE, BLCKSZ, b * BLCKSZ);
      if (got < BLCKSZ) break;
      bytesRead += BLCKSZ;
      const pg = rec.subarray(PAGE_HEADER_SIZE);
      const relBlock = relationBlockNumber(e.segno ?? 0, b);
      if (!input.skipBlockValidation) await verifyOrReread(inFh, src, pg, b, relBlock, checksums);
      writePageHeader(rec, 0, b, BLCKSZ);
      crc = crc32c(rec, crc);
      await outFh.write(rec, 0, REC, b * REC);
      const h2 = Buffer.alloc(PAGE_HEADER2_SIZE);
      h2.writeBigUInt64LE(pageLsn(pg), 0);
      h2.writeInt32LE(b, 8);
      h2.writeInt32LE(b * REC, 12);
      h2.writeUInt16LE(pageChecksum(pg, 0, relBlock), 16);
      added.push(h2);
    }
    const total = nBlocks + added.length;
    const size = total * REC;
    const terminator = Buffer.alloc(PAGE_HEADER2_SIZE);
    terminator.writeInt32LE(size, 12);
    const raw = Buffer.concat([entries, ...added, terminator]);
    if (!input.noSync) await outFh.sync();
    return {
      entry: { ...old, size, fullSize: total * BLCKSZ, nBlocks: total, nHeaders: total, crc, hdrCrc: crc32c(raw) },
      blob: zlib.deflateSync(raw, { level: 1 }),
      bytesRead,
    };
  } finally {
    await inFh.close();
    await outFh.close();
  }
}
