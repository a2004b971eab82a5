export { planBackupCopy, copyBatch, copyPgControl, assembleBackupContent, type ContentSums } from './copy';
export { recopyAfterSessionLoss, type RecopyResult } from './resume';
