/**
 * One file into the backup, run on a file thread (activities/threads): read, check every page,
 * compress, write to the temp name it is given. Putting the file in place is the activity's
 * decision (AttemptGuard), not the thread's.
 */
import { closeSync, fsync, openSync, renameSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { crc32c, crc32cCombine } from '../../core/crc32c';
import { deltaKeepsPage, type DeltaPageFilter } from '../../core/deltaPlan';
import { PAGE_HEADER2_SIZE, PAGE_HEADER_SIZE, PageHeaderMapBuilder, writePageHeader } from '../../core/dataFileFormat';
import { pglzCompress } from '../../core/pglz';
import { pageChecksum, relationBlockNumber, verifyPage } from '../../core/pageChecksum';
import { BLCKSZ, type CompressAlg } from '../../core/types';
import { SMALL_FILE_MAX, FdFile } from '../threads/fdFile';
import { claimIdentitySync, type ClaimCheck } from '../claimIdentity';
import type { JobContext } from '../threads/jobs';
import { deflatePage } from '../threads/pageZlib';
import { chunkBytes } from '../threads/scratch';
import { SyncBehind } from '../threads/syncBehind';

const CHUNK_PAGES = 128; // 1 MiB reads

export interface Copied {
  writeSize: number;
  fullSize: number;
  crc: number;
  compressAlg: CompressAlg;
  /** False when nothing was stored (an empty relation): there is no temp file to put in place. */
  stored: boolean;
  nBlocks?: number;
  nHeaders?: number;
  hdrCrc?: number;
  /** A Uint8Array once it crossed from the thread. */
  headerBlob?: Uint8Array;
}

export interface DataFileOptions {
  compressAlg: CompressAlg;
  compressLevel: number;
  checksumVersion: number;
  skipBlockValidation: boolean;
  noSync: boolean;
}

function openSource(src: string): { file: FdFile; size: number } | null {
  try {
    return FdFile.openRead(src);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot open "${src}": ${(e as Error).message}`);
  }
}

/** The temp file beside the source opened for it; the source is closed when this fails. */
async function openTarget(tmp: string, source: { file: FdFile; size: number }): Promise<FdFile> {
  try {
    return FdFile.openWrite(tmp, source.size <= SMALL_FILE_MAX);
  } catch (e) {
    await source.file.close();
    throw e;
  }
}

function checkCancelled(ctx: JobContext): void {
  if (ctx.cancelled()) throw new CancelledFailure('cancelled');
}

/** Non-data files: byte for byte, CRC of the content, the source's mode. Null: vanished since listing. */
export async function copyPlainFile(a: { src: string; tmp: string; mode: number; sync: boolean }, ctx: JobContext): Promise<Copied | null> {
  const source = openSource(a.src);
  if (!source) return null;
  const inFh = source.file;
  const outFh = await openTarget(a.tmp, source);
  const flush = new SyncBehind(outFh, a.sync);
  let crc = 0;
  let total = 0;
  let ok = false;
  try {
    const buf = ctx.scratch('in0', chunkBytes(source.size));
    for (;;) {
      checkCancelled(ctx);
      const { bytesRead } = await inFh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      crc = crc32c(chunk, crc);
      await outFh.write(chunk);
      flush.wrote(bytesRead);
      total += bytesRead;
      ctx.progress(bytesRead);
    }
    await outFh.chmod(a.mode & 0o7777);
    await flush.finish();
    ok = true;
  } finally {
    await flush.settle();
    await inFh.close();
    await outFh.close();
    if (!ok) await fs.rm(a.tmp, { force: true }); // failed or cancelled: leave nothing half-written
  }
  return { writeSize: total, fullSize: total, crc, compressAlg: 'none', stored: true };
}

/**
 * Data files page by page (spec §5.1): every block of a FULL backup is stored with its header;
 * a page is compressed when that makes it smaller. The file is read up to its size at open: blocks
 * added later are in the WAL of the backup. With a `filter` (DELTA) every page is read and checked
 * but only the pages it keeps are stored.
 */
export async function copyDataFile(a: { src: string; tmp: string; segno: number; opts: DataFileOptions; filter?: DeltaPageFilter }, ctx: JobContext): Promise<Copied | null> {
  const r = await copyPages({ ...a, range: null }, ctx);
  if (!r) return null;
  if (r.nHeaders === 0) {
    // An empty relation, or no page changed since the parent: nothing stored (pg_probackup creates no file either).
    await fs.rm(a.tmp, { force: true });
    return { writeSize: 0, fullSize: 0, crc: 0, compressAlg: a.opts.compressAlg, stored: false, nBlocks: r.nBlocks, nHeaders: 0 };
  }
  return await finishDataFile(a.opts.compressAlg, [r], [0]);
}

/** What copying blocks [from, to) of a file stored. */
export interface CopiedPages {
  /** Bytes this piece stored, and their CRC. */
  writeSize: number;
  crc: number;
  /** Blocks read: fewer than asked when the file was truncated while it was read. */
  nBlocks: number;
  short: boolean;
  nHeaders: number;
  /** Its page header map entries, without the terminating one; positions from `range.at`. */
  headers: Uint8Array;
}

/**
 * Where a piece of a data file goes: blocks [from, to), stored from byte `at` of `tmp`. `shared`: the
 * pieces write into one temp file (uncompressed FULL, where every record has the same size, so each
 * piece knows its place); else each piece has a file of its own and copy.ts appends them in order.
 */
export interface StoredRange {
  from: number;
  to: number;
  at: number;
  shared: boolean;
}

/** Uncompressed, unfiltered: every record is a header and a page. */
export const FIXED_RECORD_BYTES = PAGE_HEADER_SIZE + BLCKSZ;

/** Blocks of a data file (all of them with no range) into `tmp`; null when the file vanished. */
export async function copyPages(a: { src: string; tmp: string; segno: number; opts: DataFileOptions; filter?: DeltaPageFilter; range: StoredRange | null }, ctx: JobContext): Promise<CopiedPages | null> {
  const { src, tmp, segno, opts, range } = a;
  const source = openSource(src);
  if (!source) return null;
  const inFh = source.file;
  let outFh: FdFile;
  try {
    outFh = range?.shared ? FdFile.openExisting(tmp) : FdFile.openWrite(tmp, source.size <= SMALL_FILE_MAX);
  } catch (e) {
    await inFh.close();
    throw e;
  }
  // A piece is never flushed here: one in a shared file is flushed with the file (copyPieces.ts),
  // one in a file of its own is appended to the first piece's file and removed.
  const flush = new SyncBehind(outFh, !opts.noSync && !range);
  const compress = pageCompressor(opts.compressAlg, opts.compressLevel);
  const verify = !opts.skipBlockValidation;
  const checksums = opts.checksumVersion !== 0;
  const headers = new PageHeaderMapBuilder();
  const fileBlocks = Math.floor(source.size / BLCKSZ);
  const from = range?.from ?? 0;
  const to = Math.min(range?.to ?? fileBlocks, fileBlocks);
  const base = range?.at ?? 0;
  let crc = 0;
  let pos = 0;
  let nBlocks = 0;
  // Two buffers each way: the next chunk is read and the previous one written while this one is
  // checked, so the disk and the CPU work at the same time.
  let writing: Promise<unknown> = Promise.resolve();
  let reading: Promise<{ want: number; got: number }> | null = null;
  let ok = false;
  try {
    const totalBlocks = Math.max(0, to - from);
    // A small file asks for small buffers: its slot may never hold a large one.
    const chunkPages = Math.max(1, Math.min(CHUNK_PAGES, totalBlocks));
    const inBufs = [ctx.scratch('in0', chunkPages * BLCKSZ), ctx.scratch('in1', chunkPages * BLCKSZ)];
    const outBufs = [ctx.scratch('out0', chunkPages * (BLCKSZ + PAGE_HEADER_SIZE)), ctx.scratch('out1', chunkPages * (BLCKSZ + PAGE_HEADER_SIZE))];
    const readChunk = (k: number, done: number) => {
      const want = Math.min(chunkPages, totalBlocks - done) * BLCKSZ;
      return inFh.read(inBufs[k % 2], 0, want, (from + done) * BLCKSZ).then((r) => ({ want, got: r.bytesRead }));
    };
    reading = totalBlocks > 0 ? readChunk(0, 0) : null;
    for (let k = 0; reading; k++) {
      checkCancelled(ctx);
      const { want, got } = await reading;
      const pages = Math.floor(got / BLCKSZ);
      // Fewer bytes than asked: truncated while we read, and the WAL replays the truncation.
      const last = pages === 0 || got < want || nBlocks + pages >= totalBlocks;
      reading = last ? null : readChunk(k + 1, nBlocks + pages);
      if (pages === 0) break;
      const buf = inBufs[k % 2];
      const out = outBufs[k % 2];
      const firstBlock = from + nBlocks;
      let o = 0;
      let reread: Reread | null = null;
      for (let p = 0; ; ) {
        const r = storePages({ buf, pages, firstBlock, segno, out, o, at: base + pos, verify, checksums, filter: a.filter, compress, headers }, p, reread);
        o = r.o;
        if (r.next === pages) break;
        // A page failed verification: most likely one PostgreSQL is writing right now.
        p = r.next;
        const block = firstBlock + p;
        const page = buf.subarray(p * BLCKSZ, (p + 1) * BLCKSZ);
        reread = { checksum: await verifyOrReread(inFh, src, page, block, relationBlockNumber(segno, block), checksums) };
      }
      const chunk = out.subarray(0, o);
      crc = crc32c(chunk, crc);
      await writing; // the other output buffer is free again
      const at = base + pos;
      writing = outFh.write(chunk, 0, o, at).then(() => flush.wrote(o));
      pos += o;
      nBlocks += pages;
      ctx.progress(pages * BLCKSZ);
    }
    await writing;
    await flush.finish();
    ok = true;
  } finally {
    // A failure leaves a read, write or flush in flight: let it end before its file is closed.
    await Promise.allSettled([writing, reading, flush.settle()]);
    await inFh.close();
    await outFh.close();
    if (!ok && !range?.shared) await fs.rm(tmp, { force: true }); // failed or cancelled: leave nothing half-written
  }
  return {
    writeSize: pos,
    crc,
    nBlocks,
    short: from + nBlocks < (range?.to ?? fileBlocks),
    nHeaders: headers.count,
    headers: headers.entries(),
  };
}

/** A page that verification sent back to the disk, read again until it verified. */
interface Reread {
  /** Its checksum, when verification computed it (not for a page truncated meanwhile). */
  checksum: number | undefined;
}

/**
 * Stores pages [first, pages) of a chunk as records into `out` from byte `o`: checked, filtered,
 * compressed, entered in the header map. Stops at a page that fails verification, for the caller
 * to read it again; `reread` is that page, verified since. Synchronous and small, so that V8
 * optimizes it once and early: the awaits of the copy are around it, not in it.
 */
function storePages(
  c: {
    buf: Buffer;
    pages: number;
    firstBlock: number;
    segno: number;
    out: Buffer;
    o: number;
    /** Where `out` will be written in the stored file. */
    at: number;
    verify: boolean;
    checksums: boolean;
    filter: DeltaPageFilter | undefined;
    compress: ((page: Buffer) => Buffer | null) | null;
    headers: PageHeaderMapBuilder;
  },
  first: number,
  reread: Reread | null,
): { o: number; next: number } {
  const { buf, out, compress } = c;
  let o = c.o;
  for (let p = first; p < c.pages; p++) {
    const page = buf.subarray(p * BLCKSZ, (p + 1) * BLCKSZ);
    const block = c.firstBlock + p;
    const relBlock = relationBlockNumber(c.segno, block);
    let checksum: number | undefined;
    if (reread && p === first) checksum = reread.checksum;
    else if (c.verify) {
      const v = verifyPage(page, 0, relBlock, c.checksums);
      if (v.verdict === 'bad-header' || v.verdict === 'bad-checksum') return { o, next: p };
      checksum = v.expected;
    }
    if (c.filter && !deltaKeepsPage(page, 0, block, c.filter)) continue;
    c.headers.addPage(page, 0, block, c.at + o, checksum ?? pageChecksum(page, 0, relBlock));
    let payload: Buffer = page;
    if (compress) {
      const z = compress(page);
      if (z && z.length < BLCKSZ) payload = z;
    }
    writePageHeader(out, o, block, payload.length);
    payload.copy(out, o + PAGE_HEADER_SIZE);
    o += PAGE_HEADER_SIZE + payload.length;
  }
  return { o, next: c.pages };
}

/**
 * A stored data file from its pieces, in order, each stored from byte `starts[k]` of the file: its
 * CRC from theirs, its page header map from theirs (positions moved to where each piece ended up).
 */
export async function finishDataFile(compressAlg: CompressAlg, pieces: CopiedPages[], starts: number[]): Promise<Copied> {
  let crc = 0;
  let size = 0;
  let nBlocks = 0;
  let nHeaders = 0;
  const raw = Buffer.alloc((pieces.reduce((n, p) => n + p.nHeaders, 0) + 1) * PAGE_HEADER2_SIZE);
  pieces.forEach((p, k) => {
    crc = crc32cCombine(crc, p.crc, p.writeSize);
    const off = nHeaders * PAGE_HEADER2_SIZE;
    raw.set(p.headers, off);
    if (starts[k] !== 0) shiftPositions(raw.subarray(off, off + p.nHeaders * PAGE_HEADER2_SIZE), starts[k]);
    size += p.writeSize;
    nBlocks += p.nBlocks;
    nHeaders += p.nHeaders;
  });
  raw.writeInt32LE(size, nHeaders * PAGE_HEADER2_SIZE + 12); // the terminating entry: {0, 0, file size, 0}
  return {
    writeSize: size,
    fullSize: nHeaders * BLCKSZ,
    crc,
    compressAlg,
    stored: true,
    nBlocks,
    nHeaders,
    hdrCrc: crc32c(raw),
    headerBlob: await deflateHeaders(raw),
  };
}

const deflateAsync = promisify(zlib.deflate);

/**
 * The page header map, compressed as pg_probackup does (zlib level 1). A 1 GiB segment's map is
 * 3 MiB, a tenth of a second of deflate: that goes to libuv's threads rather than holding the event
 * loop (the main thread's, for a file copied in pieces) while other files wait on it.
 */
function deflateHeaders(raw: Buffer): Buffer | Promise<Buffer> {
  return raw.length < 64 * 1024 ? zlib.deflateSync(raw, { level: 1 }) : deflateAsync(raw, { level: 1 });
}

/** Appends the pieces' own files to the first piece's file, in order; fsyncs it; removes them. */
export async function joinPieces(a: { tmp: string; pieces: string[]; sync: boolean }, ctx: JobContext): Promise<void> {
  const out = FdFile.openExisting(a.tmp);
  try {
    let at = out.size();
    const buf = ctx.scratch('in0', 1 << 20);
    for (const piece of a.pieces) {
      checkCancelled(ctx);
      const { file } = FdFile.openRead(piece);
      try {
        for (;;) {
          const { bytesRead } = await file.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          await out.write(buf, 0, bytesRead, at);
          at += bytesRead;
        }
      } finally {
        await file.close();
      }
      await fs.rm(piece, { force: true });
    }
    if (a.sync) await out.sync();
  } finally {
    await out.close();
  }
}

function shiftPositions(entries: Buffer, by: number): void {
  for (let o = 12; o < entries.length; o += PAGE_HEADER2_SIZE) entries.writeInt32LE(entries.readInt32LE(o) + by, o);
}

/** A small file of a group (copySmallFiles). */
export interface SmallFile {
  src: string;
  tmp: string;
  dst: string;
  /** A data file (relation segment) and its segment number, or a plain file and its mode. */
  segno?: number;
  mode: number;
  filter?: DeltaPageFilter;
}

/**
 * Small files by the dozen, in one job: each file's reads and writes are direct system calls that
 * never leave this thread, then their fsyncs go out together, then they are renamed into place if
 * this attempt still holds its claim. One file per job meant for each a message each way, an
 * fsync, a claim check and a rename on the activity's thread, and each of those waiting its turn
 * behind the pieces of large files that share the thread: seconds for a catalog's thousand files.
 */
export async function copySmallFiles(a: { files: SmallFile[]; opts: DataFileOptions; claim: ClaimCheck }, ctx: JobContext): Promise<(Copied | null)[]> {
  const unsynced = { ...a.opts, noSync: true };
  const results: (Copied | null)[] = [];
  try {
    for (const f of a.files) {
      results.push(
        f.segno !== undefined
          ? await copyDataFile({ src: f.src, tmp: f.tmp, segno: f.segno, opts: unsynced, filter: f.filter }, ctx)
          : await copyPlainFile({ src: f.src, tmp: f.tmp, mode: f.mode, sync: false }, ctx),
      );
    }
    const stored = a.files.filter((_, k) => results[k]?.stored);
    if (!a.opts.noSync) await Promise.all(stored.map((f) => fsyncPath(f.tmp)));
    checkCancelled(ctx);
    if (claimIdentitySync(a.claim.file) !== a.claim.identity) throw new CancelledFailure('superseded by a newer attempt');
    for (const f of stored) renameSync(f.tmp, f.dst);
    return results;
  } catch (e) {
    await Promise.all(a.files.map((f) => fs.rm(f.tmp, { force: true })));
    throw e;
  }
}

function fsyncPath(file: string): Promise<void> {
  const fd = openSync(file, 'r');
  return new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve()))).finally(() => closeSync(fd));
}

/** Pages are compressed one by one (spec §5.2), so validation and restore work page by page. */
function pageCompressor(alg: CompressAlg, level: number): ((page: Buffer) => Buffer | null) | null {
  if (alg === 'zlib') return (page) => deflatePage(page, level);
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
 * again, 10 ms apart, until it verifies or TORN_READ_RETRIES run out. The last verdict, or null when
 * the file got shorter meanwhile (the WAL replays the truncation).
 */
export async function rereadTornPage(fh: Pick<FdFile, 'read'>, page: Buffer, block: number, relBlock: number, checksums: boolean): Promise<ReturnType<typeof verifyPage> | null> {
  let v = verifyPage(page, 0, relBlock, checksums);
  for (let attempt = 0; (v.verdict === 'bad-header' || v.verdict === 'bad-checksum') && attempt < TORN_READ_RETRIES; attempt++) {
    await new Promise((r) => setTimeout(r, 10));
    const { bytesRead } = await fh.read(page, 0, BLCKSZ, block * BLCKSZ);
    if (bytesRead < BLCKSZ) return null;
    v = verifyPage(page, 0, relBlock, checksums);
  }
  return v;
}

/** What is wrong with a page, in pg_probackup's words. */
export function pageFailure(v: ReturnType<typeof verifyPage>): string {
  return v.verdict === 'bad-checksum' ? `page verification failed, calculated checksum ${v.expected} but expected ${v.found}` : 'page header is invalid';
}

/**
 * rereadTornPage for a backup: a page that stays bad is corruption and fails the backup. Returns
 * the page's checksum when it was computed.
 */
export async function verifyOrReread(fh: Pick<FdFile, 'read'>, file: string, page: Buffer, block: number, relBlock: number, checksums: boolean): Promise<number | undefined> {
  const v = await rereadTornPage(fh, page, block, relBlock, checksums);
  if (v === null) return undefined;
  if (v.verdict === 'bad-header' || v.verdict === 'bad-checksum') {
    throw ApplicationFailure.nonRetryable(
      `Corruption detected in file "${file}", block ${block}: ${pageFailure(v)}. Check the cluster with pg_checksums or pg_amcheck; --skip-block-validation takes the backup anyway`,
      'CorruptPage',
    );
  }
  return v.expected;
}
