export { inspectInstanceServer, type ServerInfo } from './serverInfo';
export { backupSession, waitForBackupSession, requestBackupStop, type SessionResult, type SessionStart } from './backupSession';
