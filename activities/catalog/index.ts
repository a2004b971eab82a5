export { prepareBackup, readBackupControl, writeBackupControl, markBackupError, setBackupStatus, listInstanceBackups } from './backupCatalog';
export { deleteBackupFiles } from './deleteBackup';
