export { inspectInstanceServer, type ServerInfo } from './serverInfo';
export {
  backupSession,
  currentBackupSession,
  requestBackupStop,
  dropBackupSlot,
  backupSlotName,
  type SessionResult,
  type SessionStart,
} from './backupSession';
