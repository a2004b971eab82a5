/** Entry of a file thread (see pool.ts): runs the jobs it is sent, up to JOBS_PER_THREAD at once. */
import { parentPort } from 'node:worker_threads';
import { jobs, type JobContext } from './jobs';
import type { JobName, ThreadReply } from './pool';
import { slotScratch } from './scratch';

const port = parentPort!;
const cancelled = new Set<number>();
const freeSlots: number[] = [];
let slots = 0;
const post = (m: ThreadReply) => port.postMessage(m);

port.on('message', (m: { cancel: number } | { id: number; job: JobName; args: never }) => {
  if ('cancel' in m) {
    cancelled.add(m.cancel);
    return;
  }
  const { id } = m;
  const slot = freeSlots.pop() ?? slots++;
  const ctx: JobContext = {
    progress: (bytes) => post({ id, progress: bytes }),
    cancelled: () => cancelled.has(id),
    scratch: slotScratch(slot),
  };
  (jobs[m.job] as (args: never, ctx: JobContext) => Promise<unknown>)(m.args, ctx).then(
    (result) => post({ id, result }),
    (e: Error & { type?: string; nonRetryable?: boolean; code?: string }) =>
      post({ id, error: { message: e?.message ?? String(e), type: e?.type, nonRetryable: e?.nonRetryable, code: e?.code } }),
  ).finally(() => {
    cancelled.delete(id);
    freeSlots.push(slot);
  });
});
