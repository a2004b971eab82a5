/** Per-thread reusable buffers for the file jobs (see pool.ts). */
const scratchBuffers = new Map<string, Buffer>();

/**
 * A buffer kept for the life of the thread: a thread runs one job at a time, and a fresh 1 MiB
 * buffer per file (thousands of files) is memory the garbage collector returns late.
 */
export function scratch(name: string, size: number): Buffer {
  let b = scratchBuffers.get(name);
  if (!b || b.length < size) scratchBuffers.set(name, (b = Buffer.allocUnsafe(size)));
  return b;
}
