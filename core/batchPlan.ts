/**
 * Splits a file list into copy batches: one activity per batch keeps the workflow history small
 * (100k files must not mean 100k activities), and bounded batches keep a retry cheap.
 */
export interface BatchLimits {
  maxBytes: number;
  maxFiles: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxBytes: 64 * 1024 * 1024, maxFiles: 1000 };

/**
 * Largest files first, so the parallel lanes finish together; each batch closes when adding the
 * next file would pass a limit (a file larger than maxBytes gets a batch of its own).
 */
export function planBatches(sizes: readonly number[], limits: BatchLimits = DEFAULT_BATCH_LIMITS): number[][] {
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
