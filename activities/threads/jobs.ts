/** The work a file thread can be given (see pool.ts), by name. */
import { copyDataFile, copyPages, copyPlainFile, copySmallFiles, joinPieces } from '../files/copyFile';
import { restoreFile, restoreRange } from '../restore/restoreFile';
import { restoreChainFile } from '../restore/restoreChain';
import { mergeDataFile } from '../merge/mergeFile';
import { checkFile, checkStoredBytes } from '../restore/validate';
import type { BackupControl } from '../../core/backupControl';
import type { FileEntry } from '../../core/backupContent';
import type { Scratch } from './scratch';

export interface JobContext {
  /** Bytes done since the last call: the activity heartbeats with them. */
  progress(bytes: number): void;
  /** The activity was cancelled: stop at the next chunk. */
  cancelled(): boolean;
  /** Buffers reused by the jobs that run in this job's slot after it. */
  scratch: Scratch;
}

export const jobs = {
  copyDataFile,
  /** One piece of a large data file (core/pageRanges.ts); copyPieces.ts joins them. */
  copyDataRange: copyPages,
  joinPieces,
  copyPlainFile,
  copySmallFiles,
  restoreFile,
  restoreRange,
  restoreChainFile,
  mergeDataFile,
  checkFile: (a: { backupDir: string; entry: FileEntry; control: BackupControl; blockValidation: boolean }, ctx: JobContext) =>
    checkFile(a.backupDir, a.entry, a.control, a.blockValidation, ctx.scratch, (n) => ctx.progress(n)),
  checkRange: (a: { backupDir: string; entry: FileEntry; control: BackupControl; blockValidation: boolean; range: { start: number; end: number } }, ctx: JobContext) =>
    checkStoredBytes(a.backupDir, a.entry, a.control, a.blockValidation, ctx.scratch, (n) => ctx.progress(n), a.range),
};

export type FileJobs = typeof jobs;
