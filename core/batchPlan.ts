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
 * Files are packed largest first (each batch closes when adding the next file would pass a limit; a
 * file larger than maxBytes gets a batch of its own). The batches then alternate: the one of the
 * smallest files, the one of the largest, and so on. Lanes take batches in this order, so a batch
 * of a thousand small files, whose time goes in opens, renames and fsyncs, runs beside a large
 * file, whose pieces keep the threads' CPUs busy (activities/files/copyPieces.ts), rather than alone
 * at the end.
 */
export function planBatches(sizes: readonly number[], limits: BatchLimits = batchLimitsFor(sizes)): number[][] {
  const order = sizes.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const packed: number[][] = [];
  let cur: number[] = [];
  let bytes = 0;
  for (const [size, i] of order) {
    if (cur.length > 0 && (bytes + size > limits.maxBytes || cur.length >= limits.maxFiles)) {
      packed.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(i);
    bytes += size;
  }
  if (cur.length) packed.push(cur);
  // Packed batches come largest files first: take from the end, then the front, in turn.
  const batches: number[][] = [];
  for (let lo = 0, hi = packed.length - 1; lo <= hi; ) {
    batches.push(packed[hi--]);
    if (lo <= hi) batches.push(packed[lo++]);
  }
  return batches;
}
