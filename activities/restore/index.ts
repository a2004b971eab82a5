export { prepareRestore, restoreBatch, finishRestore } from './restore';
export { validateBackupForRestore } from './validate';
