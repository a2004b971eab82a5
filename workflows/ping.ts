import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities';

/** A trivial workflow for smoke tests: one activity round trip on a real worker. */
export async function pingWorkflow(req: { message: string }): Promise<string> {
  const { ping } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });
  return ping(req.message);
}
