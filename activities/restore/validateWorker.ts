/**
 * A worker thread of validate -j N: checks one lane of a backup's files (checkFiles in
 * validate.ts) and reports progress and problems to the activity that started it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BackupControl } from '../../core/backupControl';
import type { FileEntry } from '../../core/backupContent';
import { checkFiles } from './validate';

const data = workerData as { backupDir: string; control: BackupControl; items: { index: number; entry: FileEntry }[]; blockValidation: boolean };
let pending = 0;
checkFiles(data.backupDir, data.control, data.items, data.blockValidation, () => {
  // Batched: one message per 8 files keeps the activity's thread free for its own work.
  if (++pending >= 8) {
    parentPort!.postMessage({ checked: pending });
    pending = 0;
  }
})
  .then((done) => parentPort!.postMessage({ checked: pending, done }))
  .catch((e: Error) => parentPort!.postMessage({ fail: e.message }));
