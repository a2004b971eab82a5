/**
 * One stored page inflated by core/pageInflate.c (WebAssembly), which keeps the decoding tables of
 * the last Huffman header it read for the next page that sends the same one (the C file says why).
 * Pure computation; the caller (activities/threads/pageZlib.ts) checks it against zlib before
 * using it, and asks zlib for any stream it declines.
 */
import { PAGE_INFLATE_WASM } from './pageInflateWasm';
import { BLCKSZ } from './types';
import { instantiateWasm } from './wasm';

/** The largest stream it takes: a stored page is smaller than a page (spec §5.2); twice is ample. */
const MAX_STREAM = BLCKSZ * 2;

/**
 * An inflate(stream, into): true when the stream held exactly one page, now in into[0, BLCKSZ);
 * false for anything else (malformed, truncated, another size), which zlib should then read to
 * say what is wrong. Throws where the engine lacks WebAssembly SIMD.
 */
export function createWasmPageInflate(): (stream: Uint8Array, into: Uint8Array) => boolean {
  const { exports, memory } = instantiateWasm(PAGE_INFLATE_WASM);
  const inflate = exports.page_inflate as (n: number) => number;
  const input = (exports.page_in as () => number)();
  const page = memory.subarray((exports.page_out as () => number)()).subarray(0, BLCKSZ);
  return (stream, into) => {
    if (stream.length > MAX_STREAM || into.length < BLCKSZ) return false;
    memory.set(stream, input);
    if (inflate(stream.length) !== BLCKSZ) return false;
    into.set(page);
    return true;
  };
}
