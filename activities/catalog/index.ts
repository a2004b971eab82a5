export { prepareBackup, readBackupControl, writeBackupControl, markBackupError } from './backupCatalog';
