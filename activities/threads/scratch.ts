/**
 * Per-thread reusable buffers for the file jobs (see pool.ts). A thread runs a few jobs at once
 * (small files are latency-bound: their opens, fsyncs and renames overlap), so buffers belong to a
 * job slot: a job has its slot to itself while it runs. A fresh 1 MiB buffer per file (thousands of
 * files) is memory the garbage collector returns late; kept ones cost a few MiB per slot.
 */
const buffers = new Map<string, Buffer>();

export type Scratch = (name: string, size: number) => Buffer;

/** The buffers of one slot: at least `size` bytes, reused by the slot's next jobs. */
export function slotScratch(slot: number): Scratch {
  return (name, size) => {
    const key = `${slot}:${name}`;
    let b = buffers.get(key);
    if (!b || b.length < size) buffers.set(key, (b = Buffer.allocUnsafe(size)));
    return b;
  };
}
