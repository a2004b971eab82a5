/**
 * Checks a backup against its own records before it is trusted: backup_content.control against
 * content-crc, every file's size and CRC-32C, every data page (decompressed, checksum or header),
 * pg_control's internal CRC, and the WAL from start to stop LSN. Streams every file: memory stays
 * bounded whatever the backup's size.
 */
import * as fs from 'node:fs/promises';
import * as fsSync from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { backupContentCrc, parseBackupContent, S_IFDIR, S_IFMT, type FileEntry } from '../../core/backupContent';
import { parseBackupControl, type BackupControl } from '../../core/backupControl';
import { catalogPaths } from '../../core/catalogPaths';
import { crc32c } from '../../core/crc32c';
import { PageRecordSplitter, StoredFormatError, type StoredPage } from '../../core/dataFileFormat';
import { lsnToBigInt, parseLsn, walFileName } from '../../core/lsn';
import { RecoveryTargetReplay } from '../../core/recoveryTarget';
import { toRecoveryTarget, verdictFromOutcome, type TargetSpec, type TargetVerdict } from '../../core/recoveryTargetReport';
import { readWalRecords, type PageSource } from '../../core/walRecord';
import { relationBlockNumber, verifyPage } from '../../core/pageChecksum';
import { parsePgControl, verifyPgControlCrc } from '../../core/pgControl';
import { pglzDecompress } from '../../core/pglz';
import { BLCKSZ, DEFAULT_XLOG_SEG_SIZE, type CompressAlg } from '../../core/types';
import type { BackupId } from '../../core/backupId';
import { FdFile } from '../threads/fdFile';
import { inflatePage } from '../threads/pageZlib';
import { chunkBytes, type Scratch } from '../threads/scratch';
import { filePool, mapInFlight } from '../threads/pool';
import { checkFileInPieces } from './checkPieces';
import { heartbeatEvery } from '../heartbeat';

export interface LoadedBackup {
  backupDir: string;
  control: BackupControl;
  entries: FileEntry[];
}

/** Reads backup.control and backup_content.control, checking the latter against content-crc. */
export async function loadBackup(backupPath: string, instance: string, backupId: string): Promise<LoadedBackup> {
  const backupDir = catalogPaths.backupDir(backupPath, instance, backupId as BackupId);
  const controlFile = catalogPaths.backupControl(backupDir);
  const control = parseBackupControl(await fs.readFile(controlFile, 'utf8'), controlFile);
  const contentFile = catalogPaths.backupContent(backupDir);
  const text = await fs.readFile(contentFile, 'utf8');
  if (control.contentCrc && backupContentCrc(text) !== control.contentCrc) {
    throw new Error(`file "${contentFile}" is damaged: its CRC ${backupContentCrc(text)} differs from content-crc ${control.contentCrc} in backup.control`);
  }
  return { backupDir, control, entries: parseBackupContent(text, contentFile) };
}

export function storedPath(backupDir: string, e: FileEntry): string {
  return e.externalDirNum === 0
    ? path.join(catalogPaths.databaseDir(backupDir), e.path)
    : path.join(catalogPaths.externalDir(backupDir, e.externalDirNum), e.path);
}

/**
 * Decompresses one stored page (spec §5.2): raw when its size is BLCKSZ. The page may be a view of
 * `into` (pageBuffer), which the job's next page overwrites: check or copy it first.
 */
export function pageFromRecord(p: StoredPage, alg: CompressAlg, file: string, into: Buffer): Buffer {
  if (p.compressedSize === BLCKSZ) return p.payload;
  try {
    const page = alg === 'pglz' ? Buffer.from(pglzDecompress(p.payload, BLCKSZ)) : inflatePage(p.payload, into);
    if (page.length !== BLCKSZ) throw new Error(`decompressed to ${page.length} bytes`);
    return page;
  } catch (e) {
    throw backupCorrupt(`backup file "${file}", block ${p.block}: cannot decompress page (${alg}): ${(e as Error).message}`);
  }
}

/** What is wrong with a page of a stored data file, in validate's words; null when it is sound. */
export function pageProblem(file: string, segno: number, block: number, page: Buffer, checksums: boolean): string | null {
  const v = verifyPage(page, 0, relationBlockNumber(segno, block), checksums);
  if (v.verdict === 'bad-checksum') return `file "${file}", block ${block}: page verification failed, calculated checksum ${v.expected} but expected ${v.found}`;
  if (v.verdict === 'bad-header') return `file "${file}", block ${block}: page header is invalid`;
  return null;
}

/**
 * What a restore found wrong with the backup (a file missing, damaged, or a bad page): the backup
 * is corrupt, which no retry mends. The restore workflow marks it CORRUPT.
 */
export function backupCorrupt(problem: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(problem, 'BackupCorrupt');
}

/** A stored file found not in its format is a damaged backup; other errors stay what they are. */
export function asBackupCorrupt(err: unknown): unknown {
  return err instanceof StoredFormatError ? backupCorrupt(err.message) : err;
}

/** The slot's page to decompress into (pageFromRecord): fetched once per file, not per page. */
export function pageBuffer(scratch: Scratch): Buffer {
  return scratch('page', BLCKSZ + 1);
}

/** Two read buffers for a stored file of `size` bytes: 1 MiB each, or what a smaller file needs. */
export function readBuffers(scratch: Scratch, size: number): [Buffer, Buffer] {
  const n = chunkBytes(size);
  return [scratch('in0', n), scratch('in1', n)];
}

/**
 * Reads a stored file in chunks, feeding CRC and `onChunk`; the next chunk is read (into the other
 * buffer) while `onChunk` works on this one, so the disk and the CPU work at the same time. With a
 * `range`, only bytes [start, end) (a piece of a large file: restorePieces.ts).
 */
export async function readStored(
  file: string,
  onChunk: (chunk: Buffer) => void | Promise<void>,
  bufs: readonly [Buffer, Buffer],
  range: { start: number; end: number } = { start: 0, end: Infinity },
): Promise<{ size: number; crc: number }> {
  const fh = FdFile.openRead(file).file;
  let crc = 0;
  let size = 0;
  let reading: Promise<number> | null = null;
  const readAt = (buf: Buffer, pos: number) => fh.read(buf, 0, Math.min(buf.length, range.end - pos), pos).then((r) => r.bytesRead);
  try {
    reading = range.end > range.start ? readAt(bufs[0], range.start) : null;
    for (let k = 0; reading; k++) {
      const bytesRead = await reading;
      reading = null;
      if (bytesRead === 0) break;
      const chunk = bufs[k % 2].subarray(0, bytesRead);
      size += bytesRead;
      if (range.start + size < range.end) reading = readAt(bufs[(k + 1) % 2], range.start + size);
      crc = crc32c(chunk, crc);
      await onChunk(chunk);
    }
  } finally {
    // A failure leaves a read in flight: let it end before the file is closed.
    if (reading) await reading.catch(() => undefined);
    await fh.close();
  }
  return { size, crc };
}

/** One file of a backup against its entry: null when it is sound, else the problem. Runs on a file thread. */
export async function checkFile(backupDir: string, e: FileEntry, control: BackupControl, blockValidation: boolean, scratch: Scratch, onBytes?: (n: number) => void): Promise<string | null> {
  const file = storedPath(backupDir, e);
  if (e.path === 'global/pg_control' && e.externalDirNum === 0) {
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch {
      return `file "${file}" is missing`;
    }
    if (!verifyPgControlCrc(buf) || parsePgControl(buf).crc !== e.crc) return `file "${file}" is damaged: its CRC does not match`;
    return null;
  }
  if (e.size <= 0 && !(e.isDatafile && e.size === 0)) {
    // Empty files may or may not be stored; what is stored must be empty.
    const st = await fs.stat(file).catch(() => null);
    return st && st.size !== 0 ? `file "${file}" should be empty but has ${st.size} bytes` : null;
  }
  if (e.isDatafile && e.size === 0) return null;
  const r = await checkStoredBytes(backupDir, e, control, blockValidation, scratch, onBytes);
  return 'error' in r ? r.error : fileVerdict(file, e, r.size, r.crc, r.pageError);
}

/** The verdict on a file from what reading it found: its size, CRC, and the first bad page. */
export function fileVerdict(file: string, e: FileEntry, size: number, crc: number, pageError: string | null): string | null {
  if (size !== e.size) return `file "${file}" has size ${size}, backup_content.control says ${e.size}`;
  if (crc !== e.crc) return `file "${file}" is damaged: its CRC is ${crc}, backup_content.control says ${e.crc}`;
  return pageError;
}

export type CheckedBytes = { size: number; crc: number; pageError: string | null } | { error: string };

/**
 * Reads a stored file, or bytes [start, end) of it (whole page records: a piece of a large data
 * file), checking its pages: their size and CRC, and the first bad page.
 */
export async function checkStoredBytes(
  backupDir: string,
  e: FileEntry,
  control: BackupControl,
  blockValidation: boolean,
  scratch: Scratch,
  onBytes?: (n: number) => void,
  range?: { start: number; end: number },
): Promise<CheckedBytes> {
  const file = storedPath(backupDir, e);
  const splitter = e.isDatafile ? new PageRecordSplitter(file, range?.start ?? 0) : null;
  const checksums = control.checksumVersion !== 0;
  const into = pageBuffer(scratch);
  let pageError: string | null = null;
  try {
    const got = await readStored(file, (chunk) => {
      onBytes?.(chunk.length);
      if (!splitter || pageError) return;
      for (const rec of splitter.push(chunk)) {
        if (!blockValidation) continue;
        pageError = pageProblem(file, e.segno ?? 0, rec.block, pageFromRecord(rec, e.compressAlg, file, into), checksums);
        if (pageError) break;
      }
    }, readBuffers(scratch, range ? range.end - range.start : e.size), range);
    splitter?.end();
    return { ...got, pageError };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { error: `file "${file}" is missing` };
    return { error: (err as Error).message };
  }
}

/** Errors stop being collected past this many: a damaged backup is reported, not catalogued. */
const MAX_ERRORS = 100;

/**
 * Page checks, CRCs and decompression are CPU work: the files go to the process's file threads
 * (activities/threads), as many in flight as they take, largest first so that they end together.
 */
async function checkOnThreads(backupDir: string, control: BackupControl, items: { index: number; entry: FileEntry }[], blockValidation: boolean, threads: number, onChecked: () => void): Promise<{ index: number; error: string }[]> {
  const ctx = Context.current();
  const pool = filePool();
  pool.allow(threads);
  const order = [...items].sort((a, b) => b.entry.size - a.entry.size);
  const errors: { index: number; error: string }[] = [];
  const beat = heartbeatEvery(ctx);
  // As many files in flight as the threads take: small files overlap their opens and reads.
  await mapInFlight(order, pool.capacity, async ({ index, entry }) => {
    if (errors.length >= MAX_ERRORS) return;
    const error = await checkFileInPieces({ backupDir, entry, control, blockValidation }, () => beat(), ctx.cancellationSignal);
    if (error) errors.push({ index, error });
    onChecked();
  });
  return errors.sort((x, y) => x.index - y.index);
}

/**
 * validate (spec §11) of one backup: a list of problems, empty when the backup is restorable.
 * Reports every damaged file (up to a limit) rather than the first; `threads` files at a time.
 */
export async function validateBackupForRestore(input: {
  backupPath: string;
  instance: string;
  backupId: string;
  skipBlockValidation: boolean;
  threads?: number;
  /**
   * Set by the backup that has just copied (and verified) every page: raw pages are then not
   * checked again. Their file's CRC, computed over the very bytes that were verified and written,
   * proves they are those bytes; compressed pages are still decompressed and checked.
   */
  pagesVerifiedByCopy?: boolean;
}): Promise<{ ok: boolean; errors: string[] }> {
  const ctx = Context.current();
  let loaded: LoadedBackup;
  try {
    loaded = await loadBackup(input.backupPath, input.instance, input.backupId);
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  const { backupDir, control, entries } = loaded;
  const items = entries.map((entry, index) => ({ index, entry })).filter(({ entry }) => (entry.mode & S_IFMT) !== S_IFDIR);
  let n = 0;
  let last = 0;
  const onChecked = () => {
    n++;
    // Heartbeats are throttled by the SDK; calling per file is cheap but need not be per file.
    if (n - last >= 16 || n === items.length) {
      last = n;
      ctx.heartbeat({ checked: n });
    }
  };
  const rawPages = control.compressAlg === 'none';
  const blockValidation = !input.skipBlockValidation && !(input.pagesVerifiedByCopy && rawPages);
  const found = await checkOnThreads(backupDir, control, items, blockValidation, Math.max(1, input.threads ?? 1), onChecked);
  const errors = [...found.slice(0, MAX_ERRORS).map((f) => f.error), ...listProblems(input.backupId, control, entries)];
  return { ok: errors.length === 0, errors };
}

/** What the file list of a backup lacks, whatever its files hold: copies a FULL backup must have, WAL a STREAM backup needs. */
export function listProblems(backupId: string, control: BackupControl, entries: FileEntry[]): string[] {
  const errors: string[] = [];
  // size -1 means "look in the parent": a FULL backup has none to look in.
  if (control.backupMode === 'FULL') {
    for (const e of entries) if (e.size === -1) errors.push(`FULL backup ${backupId} has no copy of "${e.path}" (size -1 in backup_content.control)`);
  }
  const seg = BigInt(walSegSizeOf(entries) || DEFAULT_XLOG_SEG_SIZE);
  if (control.stream) {
    const names = new Set(entries.filter((e) => e.externalDirNum === 0 && e.path.startsWith('pg_wal/')).map((e) => e.path.slice(7)));
    for (let s = lsnToBigInt(control.startLsn) / seg; s <= lsnToBigInt(control.stopLsn) / seg; s++) {
      const name = walFileName(control.timelineId, s, Number(seg));
      if (!names.has(name)) errors.push(`WAL segment ${name} needed for consistency (start LSN ${control.startLsn}, stop LSN ${control.stopLsn}) is not in the backup`);
    }
  }
  return errors;
}

/** The WAL segment size of a STREAM backup, from its streamed segments. */
function walSegSizeOf(entries: FileEntry[]): number {
  const seg = entries.find((e) => e.externalDirNum === 0 && /^pg_wal\/[0-9A-F]{24}$/.test(e.path));
  return seg ? seg.size : 0;
}

/**
 * Reads the WAL recovery of a restored copy would replay, by page, 1 MiB at a time (segments may be
 * 1 GB): a segment from the instance's WAL archive when it has one, as recovery's restore_command
 * (archive-get) gives it first, else from the backup's own pg_wal. An archived `.gz` segment is
 * inflated whole, one at a time: WAL is read in order.
 */
class BackupWalPages {
  private readonly segs = new Map<bigint, { fd: number } | { data: Buffer } | null>();
  private window: { start: bigint; buf: Buffer; len: number } | null = null;
  private static readonly WINDOW = 1 << 20;
  private readonly scratch = Buffer.alloc(BackupWalPages.WINDOW);
  /** Segments read from the WAL archive. */
  archived = 0;

  constructor(
    private readonly walDir: string,
    private readonly tli: number,
    private readonly segSize: number,
    private readonly segments: Set<string>,
    private readonly archiveDir: string | null,
  ) {}

  readonly source: PageSource = (pageLsn) => {
    const w = this.window;
    if (!w || pageLsn < w.start || pageLsn + 8192n > w.start + BigInt(w.len)) {
      if (!this.load(pageLsn)) return null;
    }
    const off = Number(pageLsn - this.window!.start);
    return this.window!.buf.subarray(off, off + 8192);
  };

  private open(segNo: bigint): { fd: number } | { data: Buffer } | null {
    const name = walFileName(this.tli, segNo, this.segSize);
    if (this.archiveDir) {
      const plain = path.join(this.archiveDir, name);
      if (fsSync.existsSync(plain)) {
        this.archived++;
        return { fd: fsSync.openSync(plain, 'r') };
      }
      const gz = `${plain}.gz`;
      if (fsSync.existsSync(gz)) {
        this.archived++;
        // The one inflated segment kept is the one being read.
        for (const [k, v] of this.segs) if (v && 'data' in v) this.segs.delete(k);
        return { data: zlib.gunzipSync(fsSync.readFileSync(gz)) };
      }
    }
    const f = path.join(this.walDir, name);
    return this.segments.has(name) && fsSync.existsSync(f) ? { fd: fsSync.openSync(f, 'r') } : null;
  }

  private load(pageLsn: bigint): boolean {
    const seg = BigInt(this.segSize);
    const segNo = pageLsn / seg;
    if (!this.segs.has(segNo)) this.segs.set(segNo, this.open(segNo));
    const s = this.segs.get(segNo);
    if (!s) return false;
    const inSeg = Number(pageLsn % seg);
    if ('data' in s) {
      this.window = { start: pageLsn, buf: s.data.subarray(inSeg), len: Math.max(0, s.data.length - inSeg) };
    } else {
      const len = fsSync.readSync(s.fd, this.scratch, 0, Math.min(this.scratch.length, this.segSize - inSeg), inSeg);
      this.window = { start: pageLsn, buf: this.scratch, len };
    }
    return this.window.len >= 8192;
  }

  close(): void {
    for (const s of this.segs.values()) if (s && 'fd' in s) fsSync.closeSync(s.fd);
    this.segs.clear();
  }
}

/** START WAL LOCATION of backup_label: where recovery of the restored copy begins. */
async function replayStart(backupDir: string, fallback: bigint): Promise<bigint> {
  const label = await fs.readFile(path.join(catalogPaths.databaseDir(backupDir), 'backup_label'), 'utf8').catch(() => '');
  const m = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/im.exec(label);
  return m ? lsnToBigInt(parseLsn(m[1])) : fallback;
}

/**
 * Replays, as PostgreSQL's recovery would decide (core/recoveryTarget), the WAL a backup holds from
 * its start, and says whether recovery to the target stops there, after the backup is consistent.
 */
export async function checkRecoveryTarget(input: { backupPath: string; instance: string; backupId: string; target: TargetSpec }): Promise<TargetVerdict> {
  const backupDir = catalogPaths.backupDir(input.backupPath, input.instance, input.backupId as BackupId);
  const controlFile = catalogPaths.backupControl(backupDir);
  const control = parseBackupControl(await fs.readFile(controlFile, 'utf8'), controlFile);
  const consistentAt = lsnToBigInt(control.stopLsn);
  const base = {
    backupId: input.backupId,
    consistentAt: control.stopLsn,
    timeline: control.timelineId,
    recoveryTime: control.recoveryTime ?? null,
    recoveryXid: control.recoveryXid,
  };
  if (input.target.timeline !== undefined && input.target.timeline !== control.timelineId) {
    return { ...base, reached: false, why: 'timeline', point: null, walEnd: control.stopLsn };
  }
  const walDir = path.join(catalogPaths.databaseDir(backupDir), 'pg_wal');
  // Only the segments backup_content.control lists are restored into pg_wal: those and no others.
  const entries = await loadBackup(input.backupPath, input.instance, input.backupId).then((l) => l.entries, () => null);
  const listed = entries
    ? entries.filter((e) => e.externalDirNum === 0 && /^pg_wal\/[0-9A-F]{24}$/.test(e.path)).map((e) => e.path.slice(7))
    : (await fs.readdir(walDir).catch(() => [] as string[])).filter((n) => /^[0-9A-F]{24}$/.test(n));
  const segSize = (entries && walSegSizeOf(entries)) || DEFAULT_XLOG_SEG_SIZE;
  const pages = new BackupWalPages(walDir, control.timelineId, segSize, new Set(listed), catalogPaths.instanceWalDir(input.backupPath, input.instance));
  const replay = new RecoveryTargetReplay(toRecoveryTarget(input.target), consistentAt);
  const ctx = Context.current();
  let walEnd = lsnToBigInt(control.startLsn);
  try {
    let n = 0;
    for (const rec of readWalRecords(pages.source, await replayStart(backupDir, walEnd), 0xffffffffffffffffn, segSize)) {
      walEnd = rec.end;
      const o = replay.push(rec);
      if (o) return verdictFromOutcome(o, { ...base, walEnd, archivedSegments: pages.archived });
      // The reader is synchronous: let heartbeats out now and then on a long WAL.
      if (++n % 4096 === 0) {
        ctx.heartbeat({ lsn: rec.lsn.toString(16) });
        await new Promise((r) => setImmediate(r));
      }
    }
    return verdictFromOutcome(replay.end(), { ...base, walEnd, archivedSegments: pages.archived });
  } finally {
    pages.close();
  }
}
