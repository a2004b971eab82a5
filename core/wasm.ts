/** The project's WebAssembly modules (generated, base64 in core/*Wasm.ts), instantiated without imports. */

// The lib this project compiles against has no WebAssembly types; Node has the API.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

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
