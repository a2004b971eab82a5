/**
 * Flushes a file being written while it is written. With gigabytes of RAM the kernel holds a whole
 * 1 GiB segment dirty until the final fsync, which then waits for all of it at once with the CPU
 * idle; a datasync every few tens of MiB, in the background, keeps the disk busy during the copy
 * and leaves the final fsync only the tail.
 */
/** What is flushed: a FileHandle or an FdFile. */
export interface Syncable {
  datasync(): Promise<void>;
  sync(): Promise<void>;
}

const EVERY = 32 << 20;

export class SyncBehind {
  private unsynced = 0;
  private inFlight: Promise<void> | null = null;
  private error: unknown = null;

  /** `enabled` false (--no-sync): nothing is flushed, finish() included. */
  constructor(
    private readonly fh: Syncable,
    private readonly enabled: boolean,
  ) {}

  wrote(bytes: number): void {
    if (!this.enabled) return;
    this.unsynced += bytes;
    if (this.unsynced < EVERY || this.inFlight) return;
    this.unsynced = 0;
    this.inFlight = this.fh.datasync().then(
      () => void (this.inFlight = null),
      (e) => {
        this.error ??= e;
        this.inFlight = null;
      },
    );
  }

  /** Waits for a flush in flight (before the file is closed, on any path). */
  async settle(): Promise<void> {
    await this.inFlight;
  }

  /** The file is complete: fsync it (data and metadata), or report a flush that failed. */
  async finish(): Promise<void> {
    await this.settle();
    if (this.error) throw this.error;
    if (this.enabled) await this.fh.sync();
  }
}
