/**
 * A workflow for tests of the CLI's Temporal plumbing (conflicts, following, cancellation): it
 * publishes progress, prints log lines, and waits for a release signal or a timer. It touches
 * nothing, so it is harmless if someone starts it from the Web UI.
 */
import { ApplicationFailure, condition, defineSignal, isCancellation, setHandler, sleep } from '@temporalio/workflow';
import { progressQuery, type Progress } from './progress';

export interface TestWaitRequest {
  /** Printed one by one, `lineIntervalMs` apart, before waiting. */
  logLines?: string[];
  lineIntervalMs?: number;
  /** How long to wait for the release signal (default 1 hour). */
  waitMs?: number;
  /** Fail with this message (ApplicationFailure type TestFailure) instead of returning. */
  failWith?: string;
  bytesTotal?: number;
}

export interface TestWaitResult {
  released: boolean;
  echo: string;
}

export const releaseSignal = defineSignal('release');

export async function testWaitWorkflow(req: TestWaitRequest): Promise<TestWaitResult> {
  const progress: Progress = {
    operation: 'test',
    phase: 'starting',
    filesDone: 0,
    filesTotal: req.logLines?.length ?? 0,
    bytesDone: 0,
    bytesTotal: req.bytesTotal ?? 0,
    log: [],
  };
  setHandler(progressQuery, () => progress);
  let released = false;
  setHandler(releaseSignal, () => {
    released = true;
  });
  try {
    for (const line of req.logLines ?? []) {
      progress.log.push(line);
      progress.filesDone++;
      if (req.lineIntervalMs) await sleep(req.lineIntervalMs);
    }
    progress.phase = 'waiting';
    const gotSignal = await condition(() => released, req.waitMs ?? 3_600_000);
    if (req.failWith) throw ApplicationFailure.nonRetryable(req.failWith, 'TestFailure');
    progress.log.push(gotSignal ? 'INFO: released' : 'INFO: wait timed out');
    progress.phase = 'done';
    return { released: gotSignal, echo: (req.logLines ?? []).join('|') };
  } catch (e) {
    if (isCancellation(e)) progress.log.push('INFO: test workflow cancelled');
    throw e;
  }
}
