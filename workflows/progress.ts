/**
 * What a running workflow tells the CLI (and anyone with `temporal workflow query`): the CLI polls
 * this query about once a second, prints new `log` lines and draws --progress from the counters.
 */
import { defineQuery } from '@temporalio/workflow';

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
