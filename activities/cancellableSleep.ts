import { Context } from '@temporalio/activity';

/**
 * Sleep inside an activity that ends when the activity is cancelled (delivered through heartbeats):
 * a polling loop must not outlive its workflow, nor keep a worker's process from exiting.
 */
export async function activitySleep(ms: number): Promise<void> {
  const ctx = Context.current();
  ctx.heartbeat();
  await Promise.race([new Promise((r) => setTimeout(r, ms)), ctx.cancelled]);
}
