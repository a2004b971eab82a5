export { prepareRestore, restoreBatch, finishRestore, abandonRestore } from './restore';
export { validateBackupForRestore, checkRecoveryTarget } from './validate';
