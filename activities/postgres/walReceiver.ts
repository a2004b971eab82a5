/**
 * Streams WAL over the replication protocol into a backup's database/pg_wal, as pg_receivewal does:
 * each segment is written as <name>.partial pre-sized to the segment size, and renamed to its final
 * name once complete (or when the stream is finished at the stop LSN). Backpressure: the socket is
 * paused while writes are behind, so memory stays bounded on a busy server.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Client } from 'pg';
import { lsnFromBigInt, walFileName, type Lsn } from '../../core/lsn';
import { parseReplicationMessage, standbyStatusUpdate } from '../../core/walProtocol';
import { fsyncDir } from '../atomicWrite';

interface PgConnectionInternals {
  sendCopyFromChunk(b: Buffer): void;
  stream: { pause(): void; resume(): void };
}

export class WalReceiver {
  /** Highest LSN written to disk (end of the last XLogData). */
  written = 0n;
  flushed = 0n;
  private segNo = -1n;
  private fh: fs.FileHandle | null = null;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: Error | null = null;
  private ended = false;
  private readonly completed: string[] = [];
  private feedbackTimer: NodeJS.Timeout | null = null;
  /** When the server last sent anything (WAL or keepalive): a stalled stream goes quiet. */
  private lastMessageAt = Date.now();
  private done: Promise<void> | null = null;

  constructor(
    private readonly client: Client,
    private readonly walDir: string,
    private readonly timeline: number,
    private readonly segSize: number,
    private readonly sync: boolean,
  ) {}

  get error(): Error | null {
    return this.failure;
  }

  get receivedLsn(): Lsn {
    return lsnFromBigInt(this.written);
  }

  /** Milliseconds since the server last sent anything. */
  get silentForMs(): number {
    return Date.now() - this.lastMessageAt;
  }

  stalled(limitMs: number): Error {
    return new Error(
      `WAL streaming stalled: no message from the server for ${Math.round(this.silentForMs / 1000)}s ` +
        `(received up to ${this.receivedLsn}; limit -t/--rw-timeout=${Math.round(limitMs / 1000)}s); opening a new session`,
    );
  }

  /**
   * START_REPLICATION from the start of the segment that holds `from`. Every `probeMs` the
   * receiver asks the server for a reply, so a live but idle stream still speaks and silence
   * means a stall (a stopped walsender, a dead peer behind a half-open TCP connection).
   */
  start(from: bigint, slot: string | undefined, probeMs = 10_000): void {
    const segStart = from - (from % BigInt(this.segSize));
    this.written = segStart;
    this.flushed = segStart;
    const text = `START_REPLICATION ${slot ? `SLOT ${slot} ` : ''}PHYSICAL ${lsnFromBigInt(segStart)} TIMELINE ${this.timeline}`;
    const conn = (this.client as unknown as { connection: PgConnectionInternals }).connection;
    const self = this;
    const submittable = {
      submit(connection: { query(text: string): void }) {
        connection.query(text);
      },
      handleCopyData(msg: { chunk: Buffer }) {
        self.onCopyData(msg.chunk, conn);
      },
      handleError(err: Error) {
        self.fail(new Error(`WAL streaming from the server failed: ${err.message}`, { cause: err }));
      },
      handleReadyForQuery() {
        if (!self.ended) self.fail(new Error('the server ended WAL streaming unexpectedly'));
      },
      handleCommandComplete() {},
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleCopyInResponse() {},
    };
    this.done = new Promise<void>((resolve) => {
      void (this.client.query(submittable as never) as unknown as Promise<void> | undefined);
      resolve();
    });
    this.client.on('error', (e: Error) => this.fail(new Error(`replication connection lost: ${e.message}`, { cause: e })));
    this.client.on('end', () => {
      if (!this.ended) this.fail(new Error('replication connection closed by the server'));
    });
    this.lastMessageAt = Date.now();
    this.feedbackTimer = setInterval(() => this.sendFeedback(conn, true), probeMs);
  }

  private onCopyData(chunk: Buffer, conn: PgConnectionInternals): void {
    // After finish() the segment files are final; WAL past the stop LSN is not part of the backup.
    if (this.ended) return;
    this.lastMessageAt = Date.now();
    const msg = parseReplicationMessage(chunk);
    if (msg.kind === 'xlog') {
      // The buffer belongs to the socket reader; copy before queuing.
      const data = Buffer.from(msg.data);
      const start = msg.start;
      this.pending++;
      if (this.pending > 64) conn.stream.pause();
      this.queue = this.queue.then(async () => {
        if (this.failure || this.ended) {
          this.pending--;
          return;
        }
        try {
          await this.write(start, data);
        } catch (e) {
          this.fail(e as Error);
        }
        this.pending--;
        if (this.pending <= 16) conn.stream.resume();
      });
    } else if (msg.kind === 'keepalive' && msg.replyRequested) {
      this.sendFeedback(conn, false);
    }
  }

  private sendFeedback(conn: PgConnectionInternals, replyRequested: boolean): void {
    if (this.ended || this.failure) return;
    try {
      conn.sendCopyFromChunk(standbyStatusUpdate(this.written, this.flushed, Date.now(), replyRequested));
    } catch {
      /* the connection is going away; the error handler reports it */
    }
  }

  private fail(e: Error): void {
    if (!this.failure && !this.ended) this.failure = e;
  }

  private async write(start: bigint, data: Buffer): Promise<void> {
    const seg = BigInt(this.segSize);
    let pos = start;
    let off = 0;
    while (off < data.length) {
      const segNo = pos / seg;
      if (segNo !== this.segNo) await this.openSegment(segNo);
      const inSeg = Number(pos % seg);
      const n = Math.min(data.length - off, this.segSize - inSeg);
      await this.fh!.write(data, off, n, inSeg);
      off += n;
      pos += BigInt(n);
      if (inSeg + n === this.segSize) await this.closeSegment();
    }
    if (pos > this.written) this.written = pos;
  }

  private partialPath(segNo: bigint): string {
    return path.join(this.walDir, `${walFileName(this.timeline, segNo, this.segSize)}.partial`);
  }

  private async openSegment(segNo: bigint): Promise<void> {
    if (this.fh) await this.closeSegment();
    this.segNo = segNo;
    this.fh = await fs.open(this.partialPath(segNo), 'w', 0o600);
    await this.fh.truncate(this.segSize);
  }

  /** fsync, rename .partial to the segment's name: a complete segment (or the last one, zero-padded). */
  private async closeSegment(): Promise<void> {
    if (!this.fh) return;
    if (this.sync) await this.fh.sync();
    await this.fh.close();
    this.fh = null;
    const name = walFileName(this.timeline, this.segNo, this.segSize);
    await fs.rename(this.partialPath(this.segNo), path.join(this.walDir, name));
    this.completed.push(name);
    this.flushed = (this.segNo + 1n) * BigInt(this.segSize);
    this.segNo = -1n;
  }

  /** Resolves once everything up to `lsn` is on disk; rejects on a stream failure or timeout. */
  async waitFor(lsn: bigint, timeoutMs: number, onTick: () => void, stallMs = Infinity): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.written < lsn) {
      if (this.failure) throw this.failure;
      if (this.silentForMs > stallMs) throw this.stalled(stallMs);
      if (Date.now() > deadline) {
        throw new Error(`WAL up to ${lsnFromBigInt(lsn)} was not streamed within ${Math.round(timeoutMs / 1000)}s (received up to ${this.receivedLsn}); see --archive-timeout`);
      }
      onTick();
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.queue;
    if (this.failure) throw this.failure;
  }

  /** Ends streaming: the segment in progress is kept zero-padded under its final name. */
  async finish(): Promise<string[]> {
    this.ended = true;
    if (this.feedbackTimer) clearInterval(this.feedbackTimer);
    await this.queue;
    await this.closeSegment();
    if (this.sync) await fsyncDir(this.walDir);
    await this.done;
    return [...new Set(this.completed)].sort();
  }

  /**
   * Ends streaming after a failure: the segment in progress stays .partial, its file closed (one
   * left to the garbage collector makes Node warn, and will one day make it throw). A write that
   * does not come back within 5 s (a hung disk) is not waited for.
   */
  async abandon(): Promise<void> {
    this.ended = true;
    if (this.feedbackTimer) clearInterval(this.feedbackTimer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
  }
}
