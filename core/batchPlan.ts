/**
 * Splits a file list into copy batches: one activity per batch keeps the workflow history small
 * (100k files must not mean 100k activities), and bounded batches keep a retry cheap.
 */
export interface BatchLimits {
  maxBytes: number;
  maxFiles: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxBytes: 64 * 1024 * 1024, maxFiles: 1000 };

/** Batches of one run, at most: each costs about 6 history events, against Temporal's 50K (10K warns). */
export const MAX_BATCHES = 1000;

/**
 * The default limits, raised for a large cluster so that the batches stay under MAX_BATCHES
 * whatever its size: 64 MiB and 1000 files up to ~22 GB and 300k files, then larger batches (a
 * retry copies more again; the history stays bounded). planBatches closes a batch by bytes only
 * when it holds at least half of maxBytes (files come largest first), so byte-closed batches are at
 * most 2 × total / maxBytes ≤ 700, and file-closed ones at most files / maxFiles ≤ 300.
 */
export function batchLimitsFor(sizes: readonly number[]): BatchLimits {
  const total = sizes.reduce((a, b) => a + b, 0);
  return {
    maxBytes: Math.max(DEFAULT_BATCH_LIMITS.maxBytes, Math.ceil((2 * total) / 700)),
    maxFiles: Math.max(DEFAULT_BATCH_LIMITS.maxFiles, Math.ceil(sizes.length / 300)),
  };
}

/**
 * Largest files first, so the parallel lanes finish together; each batch closes when adding the
 * next file would pass a limit (a file larger than maxBytes gets a batch of its own).
 */
export function planBatches(sizes: readonly number[], limits: BatchLimits = batchLimitsFor(sizes)): number[][] {
  const order = sizes.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const batches: number[][] = [];
  let cur: number[] = [];
  let bytes = 0;
  for (const [size, i] of order) {
    if (cur.length > 0 && (bytes + size > limits.maxBytes || cur.length >= limits.maxFiles)) {
      batches.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(i);
    bytes += size;
  }
  if (cur.length) batches.push(cur);
  return batches;
}
