/**
 * The CPU work of a file (page checks, checksums, compression, decompression) on worker threads.
 * A Node process has one JavaScript thread: -j lanes of async I/O on it still share one core, and
 * a backup is CPU-bound long before the disk is. A file is the unit of work: a thread reads,
 * checks and writes it, posting byte counts the activity turns into heartbeats; the activity keeps
 * every decision that must be made once (claims, renames into place, results).
 */
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
  worker: Worker;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (bytes: number) => void;
  cancelled: boolean;
}

/**
 * Jobs a thread runs at once. One would do for a large file, which keeps its thread's core busy; a
 * small file is mostly waiting (open, fsync, rename on libuv's threads), and a few of them in
 * flight per thread overlap those waits.
 */
export const JOBS_PER_THREAD = 4;

/**
 * Pieces of large files (core/pageRanges.ts) are bulk: one keeps its thread's core busy for a
 * while, and two keep it busy while one waits for the disk. They take at most two slots of a
 * thread, and wait behind whole files, so that a batch of small files beside a large file does not
 * queue behind all of its pieces; fewer large buffers in use keep memory down.
 */
const BULK_JOBS = new Set<JobName>(['copyDataRange', 'restoreRange', 'checkRange']);
const BULK_PER_THREAD = 2;

class FilePool {
  /** Every thread, with the ids of the jobs it runs and how many of them are bulk. */
  private readonly threads = new Map<Worker, { jobs: Set<number>; bulk: number }>();
  private readonly waiting: Array<() => void> = [];
  private readonly waitingBulk: Array<() => void> = [];
  private readonly bulkIds = new Set<number>();
  private readonly running = new Map<number, Running>();
  private nextId = 1;
  /** -j: a DBA limits the load on a production host with it, so threads are started up to -j only. */
  private size = 1;

  /** At least `n` threads may run at once (the -j of a command; a `gs_probackup worker` serves the largest). */
  allow(n: number): void {
    this.size = Math.max(this.size, n);
  }

  /** Jobs worth keeping in flight: more only wait in the queue. */
  get capacity(): number {
    return this.size * JOBS_PER_THREAD;
  }

  /** Starts the threads ahead of the first job: a thread's start (loading its modules) is not free. */
  prestart(n: number): void {
    this.allow(n);
    while (this.threads.size < this.size) this.spawn();
  }

  async run<K extends JobName>(job: K, args: JobArgs<K>, onProgress?: (bytes: number) => void, signal?: AbortSignal): Promise<JobResult<K>> {
    const id = this.nextId++;
    const worker = await this.acquire(id, BULK_JOBS.has(job));
    return new Promise<JobResult<K>>((resolve, reject) => {
      // The thread stops at its next chunk and removes what it wrote; the job ends (cancelled) when
      // it says so, so that nothing half-written outlives the activity.
      const onAbort = () => {
        r.cancelled = true;
        worker.postMessage({ cancel: id });
      };
      const done = () => signal?.removeEventListener('abort', onAbort);
      const r: Running = {
        worker,
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

  /** A thread for job `id`, counted at once (so that concurrent callers do not spawn past the size). */
  private acquire(id: number, bulk: boolean): Promise<Worker> {
    const w = this.pick(bulk);
    if (w) return Promise.resolve(this.take(w, id, bulk));
    const queue = bulk ? this.waitingBulk : this.waiting;
    return new Promise((resolve) => {
      const retry = () => {
        const t = this.pick(bulk);
        if (t) resolve(this.take(t, id, bulk));
        else queue.unshift(retry);
      };
      queue.push(retry);
    });
  }

  /** The least loaded thread that takes the job; a new one rather than a second job on a busy one, while the size allows. */
  private pick(bulk: boolean): Worker | null {
    let best: Worker | null = null;
    let load = Infinity;
    for (const [w, t] of this.threads) {
      if (bulk && t.bulk >= BULK_PER_THREAD) continue;
      if (t.jobs.size < load) {
        best = w;
        load = t.jobs.size;
      }
    }
    if (load === 0) return best;
    if (this.threads.size < this.size) return this.spawn();
    return load < JOBS_PER_THREAD ? best : null;
  }

  private take(w: Worker, id: number, bulk: boolean): Worker {
    const t = this.threads.get(w)!;
    if (t.jobs.size === 0) w.ref(); // a job in flight keeps the process alive; an idle thread does not
    t.jobs.add(id);
    if (bulk) {
      t.bulk++;
      this.bulkIds.add(id);
    }
    return w;
  }

  private release(w: Worker, id: number): void {
    const t = this.threads.get(w);
    if (!t) return;
    t.jobs.delete(id);
    if (this.bulkIds.delete(id)) t.bulk--;
    if (t.jobs.size === 0) w.unref();
    // Whole files first; a bulk waiter that finds no slot for bulk work puts itself back.
    (this.waiting.shift() ?? this.waitingBulk.shift())?.();
  }

  private spawn(): Worker {
    // Small heaps: a thread holds a few MiB of buffers; the default young generation would let
    // garbage pile up to tens of MiB per thread before it is collected.
    const w = new Worker(path.join(__dirname, 'thread.js'), { resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 256 } });
    this.threads.set(w, { jobs: new Set(), bulk: 0 });
    w.on('message', (m: ThreadReply) => this.onReply(m));
    w.on('error', (e) => this.onDeath(w, e));
    w.on('exit', (code) => this.onDeath(w, new Error(`file thread exited with code ${code}`)));
    // Idle threads must not keep a finished CLI alive (after the listeners: adding one refs again).
    w.unref();
    return w;
  }

  private onReply(m: ThreadReply): void {
    const r = this.running.get(m.id);
    if (!r) return;
    if ('progress' in m) {
      r.onProgress?.(m.progress);
      return;
    }
    this.running.delete(m.id);
    this.release(r.worker, m.id);
    if (r.cancelled) r.reject(new CancelledFailure('cancelled'));
    else if ('result' in m) r.resolve(m.result);
    else r.reject(rebuildError(m.error));
  }

  private onDeath(w: Worker, e: Error): void {
    const t = this.threads.get(w);
    if (!t) return;
    this.threads.delete(w);
    for (const id of t.jobs) {
      const r = this.running.get(id);
      this.running.delete(id);
      this.bulkIds.delete(id);
      r?.reject(e);
    }
    // Waiters may now start a thread in its place.
    for (const queue of [this.waiting, this.waitingBulk]) {
      for (let n = queue.length; n > 0; n--) queue.shift()?.();
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

/**
 * `fn` over `items`, up to `limit` at a time; results in the items' order. After a failure no new
 * item starts, those running end, and the first error is thrown.
 */
export async function mapInFlight<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let error: unknown;
  const lane = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        if (!failed) error = e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failed) throw error;
  return results;
}

/**
 * Like Promise.all, but waits for every promise to settle before it throws the first failure, so
 * that no job still writes a temp file its caller is about to remove.
 */
export async function allSettledOrThrow<R>(promises: readonly Promise<R>[]): Promise<R[]> {
  const settled = await Promise.allSettled(promises);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}
