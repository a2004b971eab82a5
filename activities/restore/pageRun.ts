import type { FdFile } from '../threads/fdFile';
import { BLCKSZ } from '../../core/types';
import type { Scratch } from '../threads/scratch';
import type { SyncBehind } from '../threads/syncBehind';

const RUN_PAGES = 128;

/** Collects consecutive blocks and writes them at once: 1 MiB writes, not one per page. */
export class PageRun {
  private readonly buf: Buffer;
  /** Pages the buffer holds: a slot's buffer may be larger than asked, and not a multiple of a page. */
  private readonly capacity: number;
  private first = 0;
  private n = 0;

  /** `nBlocks`: the file's length (Infinity when unknown), so that a small file's slot gets a small buffer. */
  constructor(
    private readonly out: FdFile,
    private readonly behind: SyncBehind | null,
    scratch: Scratch,
    nBlocks: number,
  ) {
    this.buf = scratch('out0', Math.min(RUN_PAGES, Math.max(1, nBlocks)) * BLCKSZ);
    this.capacity = Math.min(RUN_PAGES, Math.floor(this.buf.length / BLCKSZ));
  }

  async add(block: number, page: Buffer): Promise<void> {
    if (this.n > 0 && (block !== this.first + this.n || this.n === this.capacity)) await this.flush();
    if (this.n === 0) this.first = block;
    page.copy(this.buf, this.n * BLCKSZ, 0, BLCKSZ);
    this.n++;
  }

  async flush(): Promise<void> {
    if (this.n === 0) return;
    await this.out.write(this.buf, 0, this.n * BLCKSZ, this.first * BLCKSZ);
    this.behind?.wrote(this.n * BLCKSZ);
    this.n = 0;
  }
}

