import type { Context } from '@temporalio/activity';

/**
 * ctx.heartbeat, at most every `ms`. Each call runs the SDK's RxJS pipeline (about 100 µs of the
 * main thread, where the copy's bookkeeping runs too), which sends at most one a second anyway:
 * the file threads report every chunk and every small file, thousands of times a second.
 */
export function heartbeatEvery(ctx: Context, ms = 200): (details?: unknown) => void {
  let last = 0;
  return (details?: unknown) => {
    const now = Date.now();
    if (now - last < ms) return;
    last = now;
    ctx.heartbeat(details);
  };
}
