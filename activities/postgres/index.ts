export { inspectInstanceServer, type ServerInfo } from './serverInfo';
export {
  backupSession,
  currentBackupSession,
  awaitSessionEnd,
  requestBackupStop,
  dropBackupSlot,
  backupSlotName,
  type SessionResult,
  type SessionStart,
} from './backupSession';
