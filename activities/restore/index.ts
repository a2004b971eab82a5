export { prepareRestore, restoreBatch, finishRestore } from './restore';
export { validateBackupForRestore, checkRecoveryTarget } from './validate';
