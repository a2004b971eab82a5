/**
 * zlib for single pages (pg_probackup compresses each page of a data file by itself, spec §5.2).
 * Level 1, the default, deflates with core/pageDeflate (WebAssembly, twice as fast per page), and
 * pages inflate with core/pageInflate (WebAssembly, which skips building decoding tables for a page
 * whose codes are the last page's), once each has passed the self-test below; other levels, and
 * any stream the WebAssembly inflate declines, use Node's zlib.
 *
 * zlib.deflateSync and inflateSync build a stream object and a zlib context per call: 110 µs to
 * deflate a page and 36 µs to inflate one, five and three times the work itself. Here each thread
 * keeps one context per level and resets it between pages, writing through the context's native
 * handle, with an 8 KiB window (a page is 8 KiB: a larger window finds nothing more, and costs its
 * initialisation on every page). Standard zlib streams either way: inflate (pg_probackup's
 * uncompress() included) reads them with its default window.
 *
 * The handle is Node's internal one (node:zlib's own sync path uses it the same way). If a Node
 * release changes it, the self-test below fails and the public calls are used instead.
 */
import * as zlib from 'node:zlib';
import { createWasmPageDeflate } from '../../core/pageDeflate';
import { createWasmPageInflate } from '../../core/pageInflate';
import { BLCKSZ } from '../../core/types';

interface NativeZlib {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  reset(): void;
  onerror: (message: string, errno: number) => void;
}

/** A reused zlib context: run() compresses or decompresses one whole input into `out`. */
class Context {
  private readonly handle: NativeZlib;
  /** [avail_out, avail_in] after a write, which the handle updates in place. */
  private readonly state: Uint32Array;
  private failure: string | null = null;

  constructor(stream: zlib.Deflate | zlib.Inflate) {
    const s = stream as unknown as { _handle?: NativeZlib; _writeState?: Uint32Array };
    // Duck-typed: under jest the typed array comes from another realm.
    if (typeof s._handle?.writeSync !== 'function' || typeof s._writeState?.[0] !== 'number') throw new Error('no native zlib handle');
    this.handle = s._handle;
    this.state = s._writeState;
    // Node's own handler would destroy the stream and close the handle: keep it open, note the error.
    this.handle.onerror = (message) => void (this.failure = message);
  }

  /**
   * One whole input through the context into `out`: the bytes written, or null when the input was
   * bad, was not all consumed, or the output filled `out` (it may not have ended).
   */
  run(input: Buffer, out: Buffer): number | null {
    this.failure = null;
    this.handle.writeSync(zlib.constants.Z_FINISH, input, 0, input.length, out, 0, out.length);
    const availOut = this.state[0];
    const availIn = this.state[1];
    this.handle.reset();
    if (this.failure !== null || availIn !== 0 || availOut === 0) return null;
    return out.length - availOut;
  }
}

const PAGE_WINDOW_BITS = 13;
const deflaters = new Map<number, Context>();
let inflater: Context | undefined;
const deflated = Buffer.allocUnsafe(BLCKSZ);

/** Whether the reused contexts work in this Node: a page round-trips through them and the public calls. */
export const pageZlibReused = (() => {
  try {
    const page = Buffer.alloc(BLCKSZ);
    for (let i = 0; i < BLCKSZ; i++) page[i] = (i * 7) % 251;
    const z = new Context(zlib.createDeflate({ level: 1, windowBits: PAGE_WINDOW_BITS, memLevel: 8 }));
    const n = z.run(page, Buffer.alloc(BLCKSZ));
    if (n === null) return false;
    const out = Buffer.alloc(BLCKSZ * 2);
    const stream = zlib.deflateSync(page, { level: 1, windowBits: PAGE_WINDOW_BITS });
    const back = new Context(zlib.createInflate()).run(stream, out);
    return back === BLCKSZ && out.subarray(0, BLCKSZ).equals(page);
  } catch {
    return false;
  }
})();

/** Test pages: zeros, a pgbench-like page of repeated tuples, and bytes with little to find. */
function selfTestPages(): Buffer[] {
  const tuples = Buffer.alloc(BLCKSZ, 0x20);
  for (let at = 24, aid = 1; at + 121 < BLCKSZ; at += 121, aid += 7) tuples.writeUInt32LE(aid * 2654435761 >>> 0, at + 23);
  const mixed = Buffer.alloc(BLCKSZ);
  for (let i = 0, x = 1; i < BLCKSZ; i++) mixed[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 27;
  return [Buffer.alloc(BLCKSZ), tuples, mixed];
}

/**
 * The WebAssembly deflate, if every test page comes back from zlib's inflate as it went in; made
 * on first use, so that a thread that never compresses does not pay for it.
 */
let fastDeflate: ((page: Uint8Array) => Buffer | null) | null | undefined;

function wasmDeflate(): ((page: Uint8Array) => Buffer | null) | null {
  if (fastDeflate !== undefined) return fastDeflate;
  fastDeflate = null;
  try {
    const deflate = createWasmPageDeflate();
    if (selfTestPages().every((page) => {
      const z = deflate(page);
      return z !== null && zlib.inflateSync(z).equals(page);
    })) fastDeflate = deflate;
  } catch {
    // No WebAssembly SIMD here: zlib it is.
  }
  return fastDeflate;
}

/** Whether level 1 deflates in WebAssembly here. */
export function pageDeflateIsWasm(): boolean {
  return wasmDeflate() !== null;
}

/**
 * The page deflated, or null when that does not make it smaller than a page. The result is a view
 * of a buffer the next call reuses: copy it before compressing another page.
 */
export function deflatePage(page: Buffer, level: number): Buffer | null {
  const fast = level === 1 ? wasmDeflate() : null;
  return fast ? fast(page) : zlibDeflatePage(page, level);
}

/** deflatePage by Node's zlib whatever the level (the other levels; bench/codecs.ts compares). */
export function zlibDeflatePage(page: Buffer, level: number): Buffer | null {
  if (!pageZlibReused) {
    const z = zlib.deflateSync(page, { level, windowBits: PAGE_WINDOW_BITS });
    return z.length < BLCKSZ ? z : null;
  }
  let ctx = deflaters.get(level);
  if (!ctx) deflaters.set(level, (ctx = new Context(zlib.createDeflate({ level, windowBits: PAGE_WINDOW_BITS }))));
  const n = ctx.run(page, deflated);
  return n !== null && n < BLCKSZ ? deflated.subarray(0, n) : null;
}

/**
 * The WebAssembly inflate, if it reads the test pages as zlib wrote them at levels 1 and 9 and as
 * the WebAssembly deflate did (each twice: the second time with its kept tables); made on first use.
 */
let fastInflate: ((stream: Uint8Array, into: Uint8Array) => boolean) | null | undefined;

function wasmInflate(): ((stream: Uint8Array, into: Uint8Array) => boolean) | null {
  if (fastInflate !== undefined) return fastInflate;
  fastInflate = null;
  try {
    const inflate = createWasmPageInflate();
    const into = Buffer.alloc(BLCKSZ);
    const streams = selfTestPages().flatMap((page) => {
      const ours = wasmDeflate()?.(page);
      return [zlib.deflateSync(page, { level: 1 }), zlib.deflateSync(page, { level: 9 }), ...(ours ? [Buffer.from(ours)] : [])].map((z) => [z, page] as const);
    });
    if (streams.every(([z, page]) => [1, 2].every(() => inflate(z, into.fill(0)) && into.equals(page)))) fastInflate = inflate;
  } catch {
    // No WebAssembly SIMD here: zlib it is.
  }
  return fastInflate;
}

/** Whether pages inflate in WebAssembly here. */
export function pageInflateIsWasm(): boolean {
  return wasmInflate() !== null;
}

/**
 * A stored page inflated into `into` (at least BLCKSZ + 1 bytes: a page that fills BLCKSZ exactly
 * has ended, more would not fit); the page is a view of it, or of a buffer of its own on the
 * fallback path. Throws when it is not a zlib page.
 *
 * The caller owns `into` (a job slot's scratch page) and checks or copies the page before its next
 * one. A fresh buffer per page cost 4 µs, a third of a table page's inflate, and in a scale-100
 * zlib restore 1.5 GB of garbage that held the process's peak about 30 MB higher.
 */
export function inflatePage(payload: Buffer, into: Buffer): Buffer {
  if (wasmInflate()?.(payload, into)) return into.subarray(0, BLCKSZ);
  return zlibInflatePage(payload, into);
}

/** inflatePage by Node's zlib (what the WebAssembly inflate declines; bench/codecs.ts compares). */
export function zlibInflatePage(payload: Buffer, into: Buffer): Buffer {
  if (pageZlibReused) {
    inflater ??= new Context(zlib.createInflate());
    if (inflater.run(payload, into.subarray(0, BLCKSZ + 1)) === BLCKSZ) return into.subarray(0, BLCKSZ);
  }
  // The public call, for its error message (or when the reused context is not available).
  const page = zlib.inflateSync(payload);
  if (page.length !== BLCKSZ) throw new Error(`decompressed to ${page.length} bytes`);
  return page;
}
