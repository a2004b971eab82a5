export { prepareBackup, readBackupControl, writeBackupControl, markBackupError, setBackupStatus, listInstanceBackups } from './backupCatalog';
export { deleteBackupFiles } from './deleteBackup';
export { chooseDeltaParent, resolveChain, markOrphans, type DeltaParent, type ResolvedChain } from './chain';
export { planInstanceRetention, backupsInUse, purgeWalArchive, type PlannedRetention, type RetentionPlanInput } from './retention';
