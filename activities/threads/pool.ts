/**
 * The CPU work of a file (page checks, checksums, compression, decompression) on worker threads.
 * A Node process has one JavaScript thread: -j lanes of async I/O on it still share one core, and
 * a backup is CPU-bound long before the disk is. A file is the unit of work: a thread reads,
 * checks and writes it, posting byte counts the activity turns into heartbeats; the activity keeps
 * every decision that must be made once (claims, renames into place, results).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { FileJobs } from './jobs';

export type JobName = keyof FileJobs;
type JobArgs<K extends JobName> = Parameters<FileJobs[K]>[0];
type JobResult<K extends JobName> = Awaited<ReturnType<FileJobs[K]>>;

/** What a thread posts back. */
export type ThreadReply =
  | { id: number; progress: number }
  | { id: number; result: unknown }
  | { id: number; error: { message: string; type?: string; nonRetryable?: boolean; code?: string } };

interface Running {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (bytes: number) => void;
  cancelled: boolean;
}

class FilePool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, number>();
  private readonly waiting: Array<(w: Worker) => void> = [];
  private readonly running = new Map<number, Running>();
  private nextId = 1;
  private size = Math.max(2, os.availableParallelism());

  /** At least `n` threads may run at once (-j above the number of cores). */
  allow(n: number): void {
    this.size = Math.max(this.size, n);
  }

  async run<K extends JobName>(job: K, args: JobArgs<K>, onProgress?: (bytes: number) => void, signal?: AbortSignal): Promise<JobResult<K>> {
    const worker = await this.acquire();
    const id = this.nextId++;
    this.busy.set(worker, id);
    worker.ref(); // a job in flight keeps the process alive; an idle thread does not
    return new Promise<JobResult<K>>((resolve, reject) => {
      // The thread stops at its next chunk and removes what it wrote; the job ends (cancelled) when
      // it says so, so that nothing half-written outlives the activity.
      const onAbort = () => {
        r.cancelled = true;
        worker.postMessage({ cancel: id });
      };
      const done = () => signal?.removeEventListener('abort', onAbort);
      const r: Running = {
        resolve: (v) => (done(), resolve(v as JobResult<K>)),
        reject: (e) => (done(), reject(e)),
        onProgress,
        cancelled: false,
      };
      this.running.set(id, r);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      worker.postMessage({ id, job, args });
    });
  }

  /** A thread, counted busy at once (so that concurrent callers do not spawn past the size). */
  private acquire(): Promise<Worker> {
    let w = this.idle.pop();
    if (!w && this.busy.size < this.size) w = this.spawn();
    if (w) {
      this.busy.set(w, 0);
      return Promise.resolve(w);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) {
      this.busy.set(w, 0);
      next(w);
    } else {
      this.busy.delete(w);
      w.unref();
      this.idle.push(w);
    }
  }

  private spawn(): Worker {
    // Small heaps: a thread holds a few MiB of buffers; the default young generation would let
    // garbage pile up to tens of MiB per thread before it is collected.
    const w = new Worker(path.join(__dirname, 'thread.js'), { resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 256 } });
    w.on('message', (m: ThreadReply) => this.onReply(w, m));
    w.on('error', (e) => this.onDeath(w, e));
    w.on('exit', (code) => this.onDeath(w, new Error(`file thread exited with code ${code}`)));
    // Idle threads must not keep a finished CLI alive (after the listeners: adding one refs again).
    w.unref();
    return w;
  }

  private onReply(w: Worker, m: ThreadReply): void {
    const r = this.running.get(m.id);
    if (!r) return;
    if ('progress' in m) {
      r.onProgress?.(m.progress);
      return;
    }
    this.running.delete(m.id);
    this.release(w);
    if (r.cancelled) r.reject(new CancelledFailure('cancelled'));
    else if ('result' in m) r.resolve(m.result);
    else r.reject(rebuildError(m.error));
  }

  private onDeath(w: Worker, e: Error): void {
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    const id = this.busy.get(w);
    this.busy.delete(w);
    if (id === undefined) return;
    const r = this.running.get(id);
    this.running.delete(id);
    r?.reject(e);
    const next = this.waiting.shift();
    if (next) {
      const fresh = this.spawn();
      this.busy.set(fresh, 0);
      next(fresh);
    }
  }
}

/** Errors cross threads as plain data: give back the type Temporal's retry policy looks at. */
function rebuildError(e: { message: string; type?: string; nonRetryable?: boolean; code?: string }): Error {
  if (e.type) return ApplicationFailure.create({ message: e.message, type: e.type, nonRetryable: e.nonRetryable ?? false });
  const err = new Error(e.message) as NodeJS.ErrnoException;
  if (e.code) err.code = e.code;
  return err;
}

let pool: FilePool | undefined;

/** The process's file threads, started on first use. */
export function filePool(): FilePool {
  return (pool ??= new FilePool());
}
