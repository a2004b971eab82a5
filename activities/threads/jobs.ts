/** The work a file thread can be given (see pool.ts), by name. */
import { copyDataFile, copyPlainFile } from '../files/copyFile';

export interface JobContext {
  /** Bytes done since the last call: the activity heartbeats with them. */
  progress(bytes: number): void;
  /** The activity was cancelled: stop at the next chunk. */
  cancelled(): boolean;
}

export const jobs = { copyDataFile, copyPlainFile };

export type FileJobs = typeof jobs;
