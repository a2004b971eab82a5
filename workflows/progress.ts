/**
 * What a running workflow tells the CLI (and anyone with `temporal workflow query`): the CLI polls
 * this query about once a second, prints new `log` lines and draws --progress from the counters.
 */
import { defineQuery, setHandler } from '@temporalio/workflow';

export interface Progress {
  operation: string;
  phase: string;
  backupId?: string;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  message?: string;
  /** INFO/WARNING lines the CLI should print, in order; only ever appended to. */
  log: string[];
}

export const progressQuery = defineQuery<Progress>('progress');

/** A fresh Progress of `operation`, the answer to progressQuery from now on, and `log` to append a line to it. */
export function trackProgress(operation: string, phase: string, fields: Partial<Progress> = {}): { progress: Progress; log: (line: string) => void } {
  const progress: Progress = { operation, phase, filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, log: [], ...fields };
  setHandler(progressQuery, () => progress);
  return { progress, log: (line) => void progress.log.push(line) };
}
