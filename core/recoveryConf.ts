/**
 * What a restore appends to postgresql.auto.conf for PostgreSQL 15 (spec §8.6): recovery settings
 * for a recovery target or a restore_command, standby settings for -R. Idempotent by its mark: a
 * rerun cuts the file at the mark and appends again.
 */
import type { RestoreRequest } from './requests';

export const RECOVERY_SETTINGS_MARK = '\n# recovery settings added by gs_probackup';

export interface StandbySettings {
  primaryConninfo?: string;
  primarySlotName?: string;
}

/** Whether recovery is asked to stop somewhere (PostgreSQL then wants a restore_command). */
export function isTargeted(r: RestoreRequest['recovery'] | undefined): boolean {
  return !!(r && (r.targetImmediate || r.targetTime || r.targetXid || r.targetLsn || r.targetName));
}

/** A value in postgresql.conf's quoting. */
function quoteConf(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * The block to append, and which signal files go with it (recovery.signal for recovery settings,
 * standby.signal for -R); null for a plain restore, which needs neither.
 */
export function recoverySettings(
  backupId: string,
  r: RestoreRequest['recovery'] | undefined,
  standby: StandbySettings | undefined,
  now: Date,
): { text: string; recovery: boolean; standby: boolean } | null {
  const lines: string[] = [];
  if (r) {
    const targeted = isTargeted(r);
    if (r.restoreCommand) lines.push(`restore_command = ${quoteConf(r.restoreCommand)}`);
    // PostgreSQL refuses a targeted recovery without restore_command. With no WAL archive the WAL is
    // the one restored from the backup into pg_wal, which recovery reads when the command fails.
    else if (targeted) lines.push(`restore_command = 'false'  # no WAL archive: recovery replays the WAL in pg_wal`);
    if (r.targetImmediate) lines.push(`recovery_target = 'immediate'`);
    if (r.targetTime) lines.push(`recovery_target_time = ${quoteConf(r.targetTime)}`);
    if (r.targetXid) lines.push(`recovery_target_xid = ${quoteConf(r.targetXid)}`);
    if (r.targetLsn) lines.push(`recovery_target_lsn = ${quoteConf(r.targetLsn)}`);
    if (r.targetName) lines.push(`recovery_target_name = ${quoteConf(r.targetName)}`);
    if (r.targetInclusive !== undefined) lines.push(`recovery_target_inclusive = ${r.targetInclusive ? 'true' : 'false'}`);
    if (r.targetTimeline) lines.push(`recovery_target_timeline = ${quoteConf(r.targetTimeline)}`);
    if (r.targetAction) lines.push(`recovery_target_action = ${quoteConf(r.targetAction)}`);
  }
  const recovery = lines.length > 0;
  if (standby) {
    lines.push('## standby settings');
    if (standby.primaryConninfo) lines.push(`primary_conninfo = ${quoteConf(standby.primaryConninfo)}`);
    if (standby.primarySlotName) lines.push(`primary_slot_name = ${quoteConf(standby.primarySlotName)}`);
  }
  if (lines.length === 0) return null;
  return {
    text: `${RECOVERY_SETTINGS_MARK} restore of backup ${backupId} at '${now.toISOString()}'\n${lines.join('\n')}\n`,
    recovery,
    standby: !!standby,
  };
}
