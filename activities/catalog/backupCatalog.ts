/**
 * Catalog side of a backup: allocating the backup directory and ID, and writing backup.control.
 * Every function is idempotent so that Temporal may retry it.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { activityInfo, ApplicationFailure } from '@temporalio/activity';
import { backupIdFromTime, backupIdToTime, type BackupId } from '../../core/backupId';
import { parseBackupControl, serializeBackupControl, type BackupControl } from '../../core/backupControl';
import { catalogPaths } from '../../core/catalogPaths';
import { parsePgControl } from '../../core/pgControl';
import type { BackupRequest } from '../../core/requests';
import type { BackupStatus } from '../../core/types';
import { writeFileAtomic } from '../atomicWrite';

export interface PreparedBackup {
  backupId: BackupId;
  backupDir: string;
  startTime: number;
}

interface OwnerRecord {
  workflowId: string;
  runId: string;
}

const OWNER_FILE = 'owner.json';

/** The backup directories of an instance (spec §1: dot-names and other names are not backups). */
export async function existingBackupIds(instanceDir: string): Promise<string[]> {
  const names = await fs.readdir(instanceDir, { withFileTypes: true });
  return names.filter((d) => d.isDirectory() && !d.name.startsWith('.') && backupIdToTime(d.name) !== null).map((d) => d.name);
}

async function readOwner(backupDir: string): Promise<OwnerRecord | null> {
  try {
    return JSON.parse(await fs.readFile(path.join(catalogPaths.stateDir(backupDir), OWNER_FILE), 'utf8')) as OwnerRecord;
  } catch {
    return null;
  }
}

/**
 * Checks the instance and PGDATA, then creates backups/<instance>/<ID>/ with a RUNNING
 * backup.control. A retry of the same workflow run finds the directory it created before (by the
 * owner record) instead of allocating a second ID.
 */
export async function prepareBackup(input: {
  req: BackupRequest;
  serverVersion: string;
  checksumVersion: number;
  fromReplica: boolean;
  timeline: number;
  primaryConninfo?: string;
  /** An incremental backup's parent (written as parent-backup-id from the start, as pg_probackup does). */
  parentBackupId?: BackupId;
}): Promise<PreparedBackup> {
  const { req } = input;
  const info = activityInfo();
  const owner: OwnerRecord = { workflowId: info.workflowExecution?.workflowId ?? '', runId: info.workflowExecution?.runId ?? '' };
  const instanceDir = catalogPaths.instanceDir(req.backupPath, req.instance);
  try {
    await fs.access(catalogPaths.instanceConfig(req.backupPath, req.instance));
  } catch {
    throw ApplicationFailure.nonRetryable(
      `instance '${req.instance}' does not exist in backup catalog '${req.backupPath}': run add-instance first`,
      'InstanceNotFound',
    );
  }
  await checkPgdata(req);

  const ids = await existingBackupIds(instanceDir);
  for (const id of ids) {
    const dir = path.join(instanceDir, id);
    const o = await readOwner(dir);
    if (o && o.workflowId === owner.workflowId && o.runId === owner.runId) {
      return { backupId: id as BackupId, backupDir: dir, startTime: backupIdToTime(id)! };
    }
  }

  const latest = ids.reduce((m, id) => Math.max(m, backupIdToTime(id) ?? 0), 0);
  for (let attempt = 0; attempt < 11; attempt++) {
    const now = Math.floor(Date.now() / 1000);
    if (now < latest) {
      throw ApplicationFailure.nonRetryable(
        `cannot create backup: the newest backup ${backupIdFromTime(latest)} starts in the future; check the system clock`,
        'BackupInFuture',
      );
    }
    const id = backupIdFromTime(now);
    const dir = catalogPaths.backupDir(req.backupPath, req.instance, id);
    try {
      await fs.mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      throw e;
    }
    const state = catalogPaths.stateDir(dir);
    await fs.mkdir(state, { mode: 0o700 });
    await writeFileAtomic(path.join(state, OWNER_FILE), JSON.stringify(owner), { sync: !req.noSync });
    await fs.mkdir(catalogPaths.databaseDir(dir), { mode: 0o700 });
    for (let n = 1; n <= req.externalDirs.length; n++) {
      await fs.mkdir(catalogPaths.externalDir(dir, n), { recursive: true, mode: 0o700 });
    }
    const control = initialControl(input, now);
    await writeFileAtomic(catalogPaths.backupControl(dir), serializeBackupControl(control), { sync: !req.noSync });
    return { backupId: id, backupDir: dir, startTime: now };
  }
  throw new Error(`cannot create a backup directory in '${instanceDir}': an entry with the new backup ID exists; retrying`);
}

function initialControl(input: Parameters<typeof prepareBackup>[0], startTime: number): BackupControl {
  const { req } = input;
  return {
    backupMode: req.backupMode,
    stream: true,
    compressAlg: req.compressAlg,
    compressLevel: req.compressLevel,
    fromReplica: input.fromReplica,
    blockSize: 8192,
    xlogBlockSize: 8192,
    checksumVersion: input.checksumVersion,
    programVersion: '2.5.16',
    serverVersion: input.serverVersion,
    timelineId: input.timeline,
    startLsn: '0/0' as BackupControl['startLsn'],
    stopLsn: '0/0' as BackupControl['stopLsn'],
    startTime,
    recoveryXid: 0,
    status: 'RUNNING',
    primaryConninfo: input.primaryConninfo,
    externalDirs: req.externalDirs.length ? req.externalDirs : undefined,
    note: req.note,
    parentBackupId: input.parentBackupId,
  };
}

async function checkPgdata(req: BackupRequest): Promise<void> {
  let buf: Buffer;
  const controlPath = path.join(req.pgdata, 'global', 'pg_control');
  try {
    buf = await fs.readFile(controlPath);
  } catch (e) {
    throw ApplicationFailure.nonRetryable(
      `cannot read '${controlPath}': ${(e as Error).message}; is -D/--pgdata '${req.pgdata}' the data directory of the instance?`,
      'BadPgdata',
    );
  }
  const sysid = parsePgControl(buf).systemIdentifier;
  if (sysid !== req.systemIdentifier) {
    throw ApplicationFailure.nonRetryable(
      `system identifier of '${req.pgdata}' is ${sysid}, but instance '${req.instance}' was added with ${req.systemIdentifier}; ` +
        `the data directory belongs to another cluster`,
      'SystemIdentifierMismatch',
    );
  }
}

export async function readBackupControl(input: { backupDir: string }): Promise<BackupControl> {
  const file = catalogPaths.backupControl(input.backupDir);
  return parseBackupControl(await fs.readFile(file, 'utf8'), file);
}

/** Rewrites backup.control whole; the workflow composes the content (pure) and this persists it. */
export async function writeBackupControl(input: { backupDir: string; control: BackupControl; noSync?: boolean }): Promise<void> {
  await writeFileAtomic(catalogPaths.backupControl(input.backupDir), serializeBackupControl(input.control), {
    sync: !input.noSync,
  });
}

/**
 * Marks a backup ERROR (end-time now) unless it already reached a final state; the reason goes to
 * the state directory because backup.control has no field for it.
 */
export async function markBackupError(input: { backupDir: string; reason: string }): Promise<void> {
  let control: BackupControl;
  try {
    control = await readBackupControl(input);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // the backup is gone: nothing to mark
    throw e;
  }
  if (control.status !== 'RUNNING') return;
  control.status = 'ERROR';
  control.endTime = Math.floor(Date.now() / 1000);
  const state = catalogPaths.stateDir(input.backupDir);
  await fs.mkdir(state, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(state, 'error.txt'), input.reason + '\n');
  await writeBackupControl({ backupDir: input.backupDir, control });
}

/**
 * Sets a backup's status (OK or CORRUPT after validation, DELETING before retention deletes it);
 * the rest of backup.control stays. With `onlyFrom`, a backup in another state (ERROR, RUNNING,
 * MERGING…) keeps it. Returns the status before.
 */
export async function setBackupStatus(input: { backupDir: string; status: BackupStatus; onlyFrom?: string[] }): Promise<BackupStatus> {
  const control = await readBackupControl(input);
  const before = control.status;
  if (input.onlyFrom && !input.onlyFrom.includes(before)) return before;
  if (before !== input.status) {
    control.status = input.status;
    await writeBackupControl({ backupDir: input.backupDir, control });
  }
  return before;
}

/** The backups of an instance with their statuses, newest first, for validate. */
export async function listInstanceBackups(input: { backupPath: string; instance: string }): Promise<{ id: string; status: string }[]> {
  const dir = catalogPaths.instanceDir(input.backupPath, input.instance);
  const out: { id: string; status: string; t: number }[] = [];
  for (const id of await existingBackupIds(dir)) {
    try {
      const c = await readBackupControl({ backupDir: path.join(dir, id) });
      out.push({ id: backupIdFromTime(c.startTime), status: c.status, t: c.startTime });
    } catch {
      out.push({ id, status: 'UNKNOWN', t: backupIdToTime(id) ?? 0 });
    }
  }
  return out.sort((a, b) => b.t - a.t).map(({ id, status }) => ({ id, status }));
}
