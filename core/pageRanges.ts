/**
 * A large data file is copied in pieces, on as many file threads as are free: a 1 GiB segment as
 * one job keeps one thread busy to the end while the others idle (pgbench's largest table is most
 * of its cluster). Pieces of 64 MiB balance the threads and keep a piece's share of a file's header
 * map small.
 */
export const PIECE_BLOCKS = 8192;

/** Blocks [from, to) of a file. */
export interface BlockRange {
  from: number;
  to: number;
}

/** `totalBlocks` in about equal ranges of at most `pieceBlocks`; one range for a file that small. */
export function pageRanges(totalBlocks: number, pieceBlocks = PIECE_BLOCKS): BlockRange[] {
  if (!Number.isInteger(totalBlocks) || totalBlocks < 0) throw new Error(`pageRanges: bad block count ${totalBlocks}`);
  const n = Math.max(1, Math.ceil(totalBlocks / pieceBlocks));
  const ranges: BlockRange[] = [];
  for (let k = 0; k < n; k++) ranges.push({ from: Math.floor((totalBlocks * k) / n), to: Math.floor((totalBlocks * (k + 1)) / n) });
  return ranges;
}

/**
 * GS_PROBACKUP_PIECE_BLOCKS of the worker's environment, else PIECE_BLOCKS: the tests set it small,
 * so that the clusters they make, whose files are a few MiB, go through the pieces too.
 */
export function pieceBlocksFrom(env: Record<string, string | undefined>): number {
  const v = Number(env.GS_PROBACKUP_PIECE_BLOCKS);
  return Number.isInteger(v) && v > 0 ? v : PIECE_BLOCKS;
}
