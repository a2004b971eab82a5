import type * as fs from 'node:fs/promises';
import { BLCKSZ } from '../../core/types';
import type { SyncBehind } from '../threads/syncBehind';

/** Collects consecutive blocks and writes them at once: 1 MiB writes, not one per page. */
export class PageRun {
  private first = 0;
  private n = 0;

  constructor(
    private readonly out: fs.FileHandle,
    private readonly behind: SyncBehind | null,
    private readonly buf: Buffer,
  ) {}

  async add(block: number, page: Buffer): Promise<void> {
    if (this.n > 0 && (block !== this.first + this.n || this.n * BLCKSZ === this.buf.length)) await this.flush();
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

