import * as fs from 'node:fs/promises';
import { catalogPaths } from '../../core/catalogPaths';
import { parseBackupControl, serializeBackupControl } from '../../core/backupControl';
import type { CommandContext } from '../context';
import { CliError } from '../errors';
import { errnoCode, fsError, requireInstance } from '../catalog';
import { writeFileAtomic } from '../../activities/atomicWrite';
import type { SetBackupOptions } from '../options/commands';
import { formatLocalTimestamp } from '../timeFormat';

const MAX_NOTE_BYTES = 1024;

/**
 * Pins (--ttl, --expire-time), unpins (--ttl=0) or annotates (--note, 'none' removes) a backup,
 * rewriting its backup.control atomically (pg_probackup's pin_backup and add_note).
 */
export async function setBackupCommand(opts: SetBackupOptions, ctx: CommandContext): Promise<number> {
  const { backupPath, instance, backupId } = opts;
  await requireInstance(backupPath, instance);
  const dir = catalogPaths.backupDir(backupPath, instance, backupId);
  const file = catalogPaths.backupControl(dir);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') {
      throw new CliError(`backup ${backupId} of instance '${instance}' does not exist (no file "${file}"): see "gs_probackup show --instance=${instance}" for its backups`);
    }
    throw fsError(e, 'read file', file);
  }
  const control = parseBackupControl(text, file);
  const messages: string[] = [];

  if (opts.ttl !== undefined || opts.expireTime !== undefined) {
    if (!control.recoveryTime || control.recoveryTime <= 0) {
      throw new CliError(`cannot set 'expire-time' for backup ${backupId}: it has no valid 'recovery-time' (status ${control.status})`);
    }
    if (opts.ttl === 0) {
      if (!control.expireTime) {
        ctx.logger.warning(`Backup ${backupId} is not pinned, nothing to unpin`);
      } else {
        delete control.expireTime;
        messages.push(`Backup ${backupId} is unpinned`);
      }
    } else {
      control.expireTime = opts.ttl !== undefined ? control.recoveryTime + opts.ttl : opts.expireTime;
      messages.push(`Backup ${backupId} is pinned until '${formatLocalTimestamp(control.expireTime!)}'`);
    }
  }
  if (opts.note !== undefined) {
    if (opts.note.toLowerCase() === 'none') {
      delete control.note;
      messages.push(`Removing note from backup ${backupId}`);
    } else {
      // A newline would break backup.control; pg_probackup keeps the first line, at most 1 KiB.
      let note = opts.note.split('\n')[0];
      while (Buffer.byteLength(note) > MAX_NOTE_BYTES) note = note.slice(0, -1);
      control.note = note;
      messages.push(`Adding note to backup ${backupId}: '${note}'`);
    }
  }
  if (messages.length > 0) {
    try {
      await writeFileAtomic(file, serializeBackupControl(control), { mode: 0o600 });
    } catch (e) {
      throw fsError(e, 'write file', file);
    }
  }
  for (const m of messages) ctx.logger.info(m);
  return 0;
}
