/**
 * One page deflated by core/pageDeflate.c (WebAssembly): a zlib stream, two to five times as fast
 * as zlib's level 1 per page and 4-10 % larger (the C file says why). Pure computation; the caller
 * (activities/threads/pageZlib.ts) checks it against zlib's inflate before using it.
 */
import { PAGE_DEFLATE_WASM } from './pageDeflateWasm';
import { BLCKSZ } from './types';
import { instantiateWasm } from './wasm';

/**
 * A deflate(page): the zlib stream, or null when it would not be smaller than the page. The result
 * is a view of the module's memory, which the next call overwrites: copy it before the next page.
 * Throws where the engine lacks WebAssembly SIMD.
 */
export function createWasmPageDeflate(): (page: Uint8Array) => Buffer | null {
  const { exports, memory } = instantiateWasm(PAGE_DEFLATE_WASM);
  const deflate = exports.page_deflate as (n: number) => number;
  const input = (exports.page_in as () => number)();
  const output = (exports.page_out as () => number)();
  return (page) => {
    if (page.length > BLCKSZ) throw new RangeError(`a page is at most ${BLCKSZ} bytes, not ${page.length}`);
    memory.set(page, input);
    const n = deflate(page.length);
    return n < 0 ? null : memory.subarray(output, output + n);
  };
}
