export { planBackupCopy, copyBatch, copyPgControl, assembleBackupContent, type ContentSums } from './copy';
