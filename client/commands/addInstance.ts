import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { catalogPaths } from '../../core/catalogPaths';
import * as V from '../../core/options/valueSchemas';
import type { InstanceConfigValues } from '../../core/instanceConfig';
import type { CommandContext } from '../context';
import { CliError } from '../errors';
import { errnoCode, fsError, instanceExists, pathExists, requireCatalog, writeInstanceConfig } from '../catalog';
import type { AddInstanceOptions } from '../options/commands';
import { readPgControlIdentity } from '../pgControlReader';
import { configValuesFromOptions } from '../resolveInstanceOptions';

/**
 * Registers a cluster: reads its identity from PGDATA/global/pg_control, creates
 * backups/<instance> and wal/<instance>, and writes pg_probackup.conf with what the command line
 * gave. Checks everything before creating anything, and removes what it created if a step fails.
 */
export async function addInstanceCommand(opts: AddInstanceOptions, ctx: CommandContext): Promise<number> {
  const { backupPath, instance } = opts;
  if (opts.enableDss || opts.vgname !== undefined || opts.socketpath !== undefined || opts.instanceId !== undefined) {
    throw new CliError('DSS mode (--enable-dss, --instance-id, --vgname, --socketpath) is not supported: this build backs up PostgreSQL data directories');
  }
  let pgdata = opts.pgdata;
  if (pgdata === undefined && ctx.env.PGDATA) {
    const r = V.checkText(V.absolutePath(), ctx.env.PGDATA);
    if (!r.ok) throw new CliError(`environment variable PGDATA: invalid value "${ctx.env.PGDATA}": ${r.message}`);
    pgdata = r.value;
  }
  if (pgdata === undefined) throw new CliError('no data directory specified: give -D/--pgdata or set PGDATA');

  await requireCatalog(backupPath);
  const instDir = catalogPaths.instanceDir(backupPath, instance);
  const walDir = catalogPaths.instanceWalDir(backupPath, instance);
  if (await instanceExists(backupPath, instance)) {
    throw new CliError(`instance '${instance}' already exists in backup catalog '${backupPath}' (${instDir}): choose another name or run del-instance first`);
  }
  if (await pathExists(walDir)) {
    throw new CliError(`WAL archive directory of instance '${instance}' already exists: '${walDir}'; remove it or choose another name`);
  }

  const controlFile = path.join(pgdata, 'global', 'pg_control');
  let buf: Buffer;
  try {
    buf = await fs.readFile(controlFile);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') {
      throw new CliError(`'${pgdata}' is not a PostgreSQL data directory: file '${controlFile}' does not exist; give the cluster's data directory with -D`);
    }
    throw fsError(e, 'read file', controlFile);
  }
  let identity;
  try {
    identity = readPgControlIdentity(buf, controlFile);
  } catch (e) {
    throw new CliError(`'${pgdata}' is not a usable PostgreSQL 15 data directory: ${(e as Error).message}`);
  }

  for (const parent of [catalogPaths.backupsRoot(backupPath), catalogPaths.walRoot(backupPath)]) {
    try {
      await fs.access(parent, fs.constants.W_OK | fs.constants.X_OK);
    } catch (e) {
      throw fsError(e, 'write to directory', parent);
    }
  }

  const values: InstanceConfigValues = {
    ...configValuesFromOptions(opts),
    pgdata,
    'system-identifier': identity.systemIdentifier,
    'xlog-seg-size': identity.xlogSegSize,
  };
  const created: string[] = [];
  try {
    for (const dir of [instDir, walDir]) {
      try {
        await fs.mkdir(dir, { mode: 0o700 });
      } catch (e) {
        throw fsError(e, 'create directory', dir);
      }
      created.push(dir);
    }
    await writeInstanceConfig(backupPath, instance, values);
  } catch (e) {
    for (const dir of created.reverse()) await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  ctx.logger.info(`Instance '${instance}' successfully initialized`);
  return 0;
}
