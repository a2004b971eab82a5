/**
 * The project's WebAssembly modules (generated, base64 in core/*Wasm.ts), instantiated without
 * imports; and WebAssembly memory as page-aligned bytes for JavaScript.
 */

// The lib this project compiles against has no WebAssembly types; Node has the API.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
};

const WASM_PAGE = 65536;

export interface WasmModule {
  exports: Record<string, unknown>;
  /** The module's memory, which these modules never grow: a view stays valid. */
  memory: Buffer;
}

/** Throws where the engine lacks what the module uses (SIMD, bulk memory). */
export function instantiateWasm(base64: string): WasmModule {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, 'base64')), {});
  return { exports: inst.exports, memory: Buffer.from((inst.exports.memory as { buffer: ArrayBuffer }).buffer) };
}

/**
 * At least `bytes` of zeroed memory that starts at a page boundary (V8 maps WebAssembly memory
 * page-aligned; Node's Buffers have no alignment to speak of). Throws where the address space for
 * one is refused (`ulimit -v`: a WebAssembly memory reserves gigabytes of it).
 */
export function pageAlignedMemory(bytes: number): ArrayBuffer {
  return new WebAssembly.Memory({ initial: Math.ceil(bytes / WASM_PAGE) }).buffer;
}
