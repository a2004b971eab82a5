/**
 * The catalog as the direct commands see it: checks that name the path and the fix, and the
 * instance's pg_probackup.conf read and written atomically.
 */
import * as fs from 'node:fs/promises';
import { catalogPaths } from '../core/catalogPaths';
import { ConfigFileError, parseInstanceConfig, serializeInstanceConfig, type InstanceConfigValues } from '../core/instanceConfig';
import { writeFileAtomic } from '../activities/atomicWrite';
import { CliError } from './errors';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENOTEMPTY: 'directory not empty',
};

export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** `could not create directory "/x/backups": permission denied` */
export function fsError(e: unknown, action: string, file: string): CliError {
  const code = errnoCode(e);
  const reason = (code && REASONS[code]) ?? (e as Error).message;
  return new CliError(`could not ${action} "${file}": ${reason}`);
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

export async function requireCatalog(backupPath: string): Promise<void> {
  if (!(await isDir(backupPath))) {
    throw new CliError(`backup catalog '${backupPath}' does not exist: run "gs_probackup init -B ${backupPath}" first`);
  }
  for (const sub of [catalogPaths.backupsRoot(backupPath), catalogPaths.walRoot(backupPath)]) {
    if (!(await isDir(sub))) {
      throw new CliError(`'${backupPath}' is not a backup catalog: directory '${sub}' is missing; run "gs_probackup init -B ${backupPath}" on an empty directory`);
    }
  }
}

export async function instanceExists(backupPath: string, instance: string): Promise<boolean> {
  return isDir(catalogPaths.instanceDir(backupPath, instance));
}

export async function requireInstance(backupPath: string, instance: string): Promise<void> {
  await requireCatalog(backupPath);
  if (!(await instanceExists(backupPath, instance))) {
    throw new CliError(`instance '${instance}' does not exist in backup catalog '${backupPath}': run add-instance first`);
  }
}

export async function listInstances(backupPath: string): Promise<string[]> {
  const entries = await fs.readdir(catalogPaths.backupsRoot(backupPath), { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

export async function readInstanceConfig(backupPath: string, instance: string): Promise<InstanceConfigValues> {
  const file = catalogPaths.instanceConfig(backupPath, instance);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') {
      throw new CliError(`configuration file "${file}" of instance '${instance}' does not exist: recreate the instance with add-instance`);
    }
    throw fsError(e, 'read configuration file', file);
  }
  try {
    return parseInstanceConfig(text, file);
  } catch (e) {
    if (e instanceof ConfigFileError) throw new CliError(e.message);
    throw e;
  }
}

export async function writeInstanceConfig(backupPath: string, instance: string, values: InstanceConfigValues): Promise<void> {
  const file = catalogPaths.instanceConfig(backupPath, instance);
  try {
    await writeFileAtomic(file, serializeInstanceConfig(values), { mode: 0o600 });
  } catch (e) {
    throw fsError(e, 'write configuration file', file);
  }
}
