/**
 * Per-thread reusable buffers for the file jobs (see pool.ts). A thread runs a few jobs at once
 * (small files are latency-bound: their opens, fsyncs and renames overlap), so buffers belong to a
 * job slot: a job has its slot to itself while it runs. A fresh 1 MiB buffer per file (thousands of
 * files) is memory the garbage collector returns late; kept ones cost a few MiB per slot.
 */
import { BLCKSZ } from '../../core/types';
import { pageAlignedMemory } from '../../core/wasm';
import { UNCACHED_ALIGN } from './fdFile';

const buffers = new Map<string, { buf: Buffer; aligned: boolean }>();

/** `aligned`: the buffer starts at a page boundary, as uncached writes need (fdFile.ts). */
export type Scratch = (name: string, size: number, aligned?: boolean) => Buffer;

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
  return (name, size, aligned = false) => {
    const key = `${slot}:${name}`;
    let b = buffers.get(key);
    if (!b || b.buf.length < size || (aligned && !b.aligned)) {
      buffers.set(key, (b = { buf: aligned ? alignedBuffer(size) : Buffer.allocUnsafe(size), aligned }));
    }
    return b.buf;
  };
}

/*
 * Aligned buffers are cut from page-aligned memory (core/wasm.ts), 8 MiB at a time: a thread asks
 * for a few (a pair of run buffers per slot that writes uncached) and keeps them, so the arena never
 * needs to grow, which a WebAssembly memory could only do by moving away from every view of it.
 */
const ARENA_BYTES = 8 << 20;
let arena: ArrayBuffer | null = null;
let arenaUsed = 0;

function alignedBuffer(size: number): Buffer {
  const span = Math.ceil(size / UNCACHED_ALIGN) * UNCACHED_ALIGN;
  if (!arena || arenaUsed + span > arena.byteLength) {
    try {
      arena = pageAlignedMemory(Math.max(ARENA_BYTES, span));
    } catch {
      // An unaligned buffer: the file's first write is refused and the file goes through the cache.
      return Buffer.allocUnsafe(size);
    }
    arenaUsed = 0;
  }
  const buf = Buffer.from(arena, arenaUsed, size);
  arenaUsed += span;
  return buf;
}
