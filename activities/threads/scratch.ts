/**
 * Per-thread reusable buffers for the file jobs (see pool.ts). A thread runs a few jobs at once
 * (small files are latency-bound: their opens, fsyncs and renames overlap), so buffers belong to a
 * job slot: a job has its slot to itself while it runs. A fresh 1 MiB buffer per file (thousands of
 * files) is memory the garbage collector returns late; kept ones cost a few MiB per slot.
 */
import { BLCKSZ } from '../../core/types';

const buffers = new Map<string, Buffer>();

export type Scratch = (name: string, size: number) => Buffer;

/**
 * A read chunk for a file of `size` bytes: 1 MiB, or the whole file and one byte when it is smaller
 * (one read gets it all, the next finds the end), so a small file's slot never holds a large buffer.
 */
export function chunkBytes(size: number): number {
  return Math.min(1 << 20, Math.max(BLCKSZ, size + 1));
}

/**
 * The buffers of one slot: at least `size` bytes, reused by the slot's next jobs. Jobs name them
 * alike ('in0', 'in1' for reads, 'out0', 'out1' for writes) so that a slot holds one set whatever
 * jobs it ran.
 */
export function slotScratch(slot: number): Scratch {
  return (name, size) => {
    const key = `${slot}:${name}`;
    let b = buffers.get(key);
    if (!b || b.length < size) buffers.set(key, (b = Buffer.allocUnsafe(size)));
    return b;
  };
}
