/**
 * Backup IDs are pg_probackup's: the base36 (0-9A-Z) text of the backup's start time in Unix
 * seconds, so they sort by time and scripts written for pg_probackup parse them.
 */
export type BackupId = string & { readonly __brand: 'BackupId' };

export function backupIdFromTime(unixSeconds: number): BackupId {
  if (!Number.isInteger(unixSeconds) || unixSeconds <= 0) throw new Error(`invalid backup start time ${unixSeconds}`);
  return unixSeconds.toString(36).toUpperCase() as BackupId;
}

/** Returns the start time (Unix seconds) an ID encodes, or null when the text is not an ID. */
export function backupIdToTime(id: string): number | null {
  if (!/^[0-9A-Za-z]{1,13}$/.test(id)) return null;
  const v = parseInt(id, 36);
  return Number.isSafeInteger(v) && v > 0 ? v : null;
}

export function parseBackupId(text: string): BackupId {
  const t = backupIdToTime(text);
  if (t === null) throw new Error(`invalid backup ID "${text}": expected a base36 ID such as SCUN4E`);
  return backupIdFromTime(t);
}
