/**
 * Per-core throughput of the codecs a backup and a validate run page by page, on real 8 KiB pages:
 *
 *   node dist/bench/codecs.js [PGDATA] [--mb N] [--seconds S]
 *
 * Pages come from the relation files under PGDATA/base (a pgbench cluster is the usual subject),
 * or are generated (pgbench_accounts-like rows) when no directory is given. Each codec runs on
 * one thread over the whole page set, repeated for at least S seconds; MB/s counts uncompressed
 * page bytes in and out. Not a test: figures depend on the machine and its load.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as pako from 'pako';
import * as crc from '../core/crc32c';
import { pageChecksum } from '../core/pageChecksum';
import { pglzCompress, pglzDecompress } from '../core/pglz';
import { deflatePage, inflatePage, pageDeflateIsWasm, pageInflateIsWasm, zlibDeflatePage, zlibInflatePage } from '../activities/threads/pageZlib';

const BLCKSZ = 8192;

function parseArgs(argv: string[]): { dir?: string; mb: number; seconds: number } {
  const out: { dir?: string; mb: number; seconds: number } = { mb: 64, seconds: 1.5 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--mb') out.mb = Number(argv[++i]);
    else if (a === '--seconds') out.seconds = Number(argv[++i]);
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}: use [PGDATA] [--mb N] [--seconds S]`);
    else out.dir = a;
  }
  if (!(out.mb > 0) || !(out.seconds > 0)) throw new Error('--mb and --seconds take positive numbers');
  return out;
}

/** Relation segment files (base/<db>/<relfilenode>[.N]), biggest first, up to `limit` bytes of pages. */
function realPages(pgdata: string, limit: number): Buffer[] {
  const files: { f: string; size: number }[] = [];
  const base = path.join(pgdata, 'base');
  for (const db of fs.readdirSync(base)) {
    for (const name of fs.readdirSync(path.join(base, db))) {
      if (!/^\d+(\.\d+)?$/.test(name)) continue;
      const f = path.join(base, db, name);
      files.push({ f, size: fs.statSync(f).size });
    }
  }
  files.sort((a, b) => b.size - a.size);
  const pages: Buffer[] = [];
  // Round-robin over files so tables, indexes and catalogs all weigh in.
  const data = files.filter((x) => x.size >= BLCKSZ).map((x) => fs.readFileSync(x.f));
  for (let off = 0; pages.length * BLCKSZ < limit; off += BLCKSZ) {
    let any = false;
    for (const d of data) {
      if (off + BLCKSZ > d.length || pages.length * BLCKSZ >= limit) continue;
      pages.push(d.subarray(off, off + BLCKSZ));
      any = true;
    }
    if (!any) break;
  }
  return pages;
}

/** pgbench_accounts-like heap pages: 61 tuples of (aid, bid, abalance, 84-char blank filler). */
function generatedPages(limit: number): Buffer[] {
  const pages: Buffer[] = [];
  for (let p = 0; p * BLCKSZ < limit; p++) {
    const page = Buffer.alloc(BLCKSZ);
    page.writeUInt16LE(24 + 61 * 4, 12); // pd_lower
    page.writeUInt16LE(BLCKSZ - 61 * 128, 14); // pd_upper
    page.writeUInt16LE(BLCKSZ, 16);
    page.writeUInt16LE(0x2004, 18);
    for (let t = 0; t < 61; t++) {
      const off = BLCKSZ - (t + 1) * 128;
      page.writeUInt32LE(off | (1 << 15) | (121 << 17), 24 + t * 4);
      page.writeUInt32LE(1000 + p, off);
      page.writeUInt32LE(p * 61 + t + 1, off + 24);
      page.writeUInt32LE(1, off + 28);
      page.write(' '.repeat(84), off + 40);
    }
    pages.push(page);
  }
  return pages;
}

interface Row {
  name: string;
  mbPerSec: number;
  /** Stored size / raw size, for compressors. */
  ratio?: number;
}

function measure(name: string, pages: Buffer[], seconds: number, fn: (page: Buffer, i: number) => number | void): Row {
  let bytes = 0;
  let out = 0;
  let compressedPages = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (let i = 0; i < pages.length; i++) {
      const r = fn(pages[i], i);
      if (typeof r === 'number') {
        out += r;
        compressedPages++;
      }
      bytes += BLCKSZ;
    }
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (elapsed < seconds);
  return { name, mbPerSec: bytes / 1048576 / elapsed, ...(compressedPages ? { ratio: out / (compressedPages * BLCKSZ) } : {}) };
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const limit = args.mb * 1048576;
  const pages = args.dir ? realPages(args.dir, limit) : generatedPages(limit);
  if (pages.length === 0) throw new Error(`no relation pages under ${args.dir}/base`);
  const s = args.seconds;
  const pakoOut = pages.map((p) => pako.deflate(p, { level: 1 }));
  const zlibOut = pages.map((p) => zlib.deflateSync(p, { level: 1 }));
  const pageOut = pages.map((p) => { const z = deflatePage(p, 1); return z && Buffer.from(z); });
  const inflated = Buffer.allocUnsafe(BLCKSZ + 1); // a job slot's scratch page
  // As the backup stores pages: compressed only when smaller, else raw.
  const pglzOut = pages.map((p) => pglzCompress(p));
  const rows: Row[] = [
    measure('pako deflate level 1', pages, s, (p) => pako.deflate(p, { level: 1 }).length),
    measure('node:zlib deflateSync level 1', pages, s, (p) => zlib.deflateSync(p, { level: 1 }).length),
    measure('pako inflate', pages, s, (_p, i) => void pako.inflate(pakoOut[i])),
    measure('node:zlib inflateSync', pages, s, (_p, i) => void zlib.inflateSync(zlibOut[i])),
    // What a backup and a validation run: one reused context per thread, or the WebAssembly deflate.
    measure(`page deflate level 1 (${pageDeflateIsWasm() ? 'core/pageDeflate.c, WebAssembly' : 'node:zlib, reused context'})`, pages, s, (p) => deflatePage(p, 1)?.length ?? BLCKSZ),
    measure('page deflate level 1 (node:zlib, reused context)', pages, s, (p) => zlibDeflatePage(p, 1)?.length ?? BLCKSZ),
    // Our pages (their kept trees let the WebAssembly inflate keep its tables), then zlib's.
    measure(`page inflate (${pageInflateIsWasm() ? 'core/pageInflate.c, WebAssembly' : 'node:zlib, reused context'})`, pages, s, (_p, i) => void (pageOut[i] ? inflatePage(pageOut[i]!, inflated) : undefined)),
    measure('page inflate (node:zlib, reused context)', pages, s, (_p, i) => void (pageOut[i] ? zlibInflatePage(pageOut[i]!, inflated) : undefined)),
    measure('page inflate of zlib level 1 pages (as pg_probackup stores them)', pages, s, (_p, i) => void (zlibOut[i].length < BLCKSZ ? inflatePage(zlibOut[i], inflated) : undefined)),
    measure('pglz compress (core/pglz)', pages, s, (p) => pglzCompress(p)?.length ?? BLCKSZ),
    measure('pglz decompress (core/pglz)', pages, s, (_p, i) => void (pglzOut[i] ? pglzDecompress(pglzOut[i]!, BLCKSZ) : undefined)),
    measure('pageChecksum (core/pageChecksum)', pages, s, (p, i) => void pageChecksum(p, 0, i)),
    measure(`crc32c (core/crc32c${(crc as { crc32cIsNative?: boolean }).crc32cIsNative ? ', native' : ''})`, pages, s, (p) => void crc.crc32c(p)),
  ];
  const table = (crc as { crc32cTable?: (b: Uint8Array) => number }).crc32cTable;
  if (table && table !== crc.crc32c) rows.push(measure('crc32c table (JS fallback)', pages, s, (p) => void table(p)));
  const source = args.dir ? `${args.dir} (relation files)` : 'generated pgbench_accounts-like pages';
  console.log(`${pages.length} pages of 8 KiB (${(pages.length * BLCKSZ / 1048576).toFixed(1)} MB) from ${source}; node ${process.version}, one thread`);
  console.log('');
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'codec'.padEnd(width)} ${'MB/s'.padStart(9)}  ${'stored/raw'.padStart(10)}`);
  for (const r of rows) console.log(`${r.name.padEnd(width)} ${r.mbPerSec.toFixed(1).padStart(9)}  ${r.ratio === undefined ? '' : r.ratio.toFixed(3).padStart(10)}`);
}

main();
