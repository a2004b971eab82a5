import type { FdFile } from '../threads/fdFile';
import { BLCKSZ } from '../../core/types';
import type { Scratch } from '../threads/scratch';
import type { SyncBehind } from '../threads/syncBehind';

const RUN_PAGES = 128;

/**
 * Collects consecutive blocks and writes them at once: 1 MiB writes, not one per page. Two buffers:
 * one run is written while the next is filled, so the pages are inflated and checked while the disk
 * writes (an uncached write waits for the disk). The buffers are page-aligned when `out` is
 * uncached, as its writes must be.
 */
export class PageRun {
  private readonly bufs: [Buffer, Buffer];
  /** Pages a buffer holds: a slot's buffer may be larger than asked, and not a multiple of a page. */
  private readonly capacity: number;
  private cur = 0;
  private first = 0;
  private n = 0;
  /** The other buffer's write; it never rejects (see `error`). */
  private writing: Promise<void> = Promise.resolve();
  private error: unknown = null;

  /** `nBlocks`: the file's length (Infinity when unknown), so that a small file's slot gets a small buffer. */
  constructor(
    private readonly out: FdFile,
    private readonly behind: SyncBehind | null,
    scratch: Scratch,
    nBlocks: number,
  ) {
    const size = Math.min(RUN_PAGES, Math.max(1, nBlocks)) * BLCKSZ;
    this.bufs = [scratch('out0', size, out.uncached), scratch('out1', size, out.uncached)];
    this.capacity = Math.min(RUN_PAGES, Math.floor(Math.min(this.bufs[0].length, this.bufs[1].length) / BLCKSZ));
  }

  async add(block: number, page: Buffer): Promise<void> {
    if (this.n > 0 && (block !== this.first + this.n || this.n === this.capacity)) await this.flush();
    if (this.n === 0) this.first = block;
    page.copy(this.bufs[this.cur], this.n * BLCKSZ, 0, BLCKSZ);
    this.n++;
  }

  /** Starts writing the pages collected, once the write before it has ended. */
  async flush(): Promise<void> {
    if (this.n === 0) return;
    await this.settle();
    if (this.error) throw this.error;
    const bytes = this.n * BLCKSZ;
    this.writing = this.out.write(this.bufs[this.cur], 0, bytes, this.first * BLCKSZ).then(
      () => this.behind?.wrote(bytes),
      (e) => void (this.error ??= e),
    );
    this.cur ^= 1;
    this.n = 0;
  }

  /** Everything added is written (or its write failed: thrown). */
  async finish(): Promise<void> {
    await this.flush();
    await this.settle();
    if (this.error) throw this.error;
  }

  /** Waits for a write in flight: before the file is closed, on every path. */
  settle(): Promise<void> {
    return this.writing;
  }
}
