import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { amcheckCluster } from '../../activities/checkdb/amcheck';
import { checkDataFile, listDataFiles } from '../../activities/checkdb/checkPgdata';
import { closePg, connectPg, queryOne } from '../../activities/postgres/connection';
import { parsePgControl } from '../../core/pgControl';
import type { PgConnection } from '../../core/requests';
import type { CommandContext } from '../context';
import { CliError } from '../errors';
import { openInstance } from '../instance';
import type { CheckdbOptions } from '../options/commands';
import { resolveInstanceOptions } from '../resolveInstanceOptions';

/** PGDATA and the connection: the instance's (with -B and --instance), else options and environment. */
async function target(opts: CheckdbOptions, ctx: CommandContext): Promise<{ pgdata?: string; connection: PgConnection }> {
  if (opts.backupPath !== undefined && opts.instance !== undefined) {
    const r = await openInstance({ ...opts, backupPath: opts.backupPath, instance: opts.instance }, ctx);
    return { pgdata: r.pgdata, connection: r.connection };
  }
  const r = resolveInstanceOptions({ backupPath: opts.backupPath ?? '/', instance: opts.instance ?? '', options: opts, file: {}, env: ctx.env });
  return { pgdata: r.pgdata, connection: r.connection };
}

/**
 * checkdb (pg_probackup's): the pages of a running cluster's data files, as a backup would verify
 * them, and with --amcheck its B-tree indexes. Reads only; needs no catalog and no Temporal.
 */
export async function checkdbCommand(opts: CheckdbOptions, ctx: CommandContext): Promise<number> {
  const t = await target(opts, ctx);
  if (!opts.skipBlockValidation) {
    if (!t.pgdata) throw new CliError('Required parameter not specified: PGDATA (-D, --pgdata)');
    const pgdata = t.pgdata;
    let control;
    try {
      control = parsePgControl(await fs.readFile(path.join(pgdata, 'global', 'pg_control')));
    } catch (e) {
      throw new CliError(`"${pgdata}" is not a PostgreSQL data directory: cannot read global/pg_control (${(e as Error).message})`);
    }
    // The pages are checked against the server's settings: it must be the one running on PGDATA.
    const client = await connectPg(t.connection);
    let server: { sysid: string; checksums: string };
    try {
      server = await queryOne(client, "SELECT (SELECT system_identifier FROM pg_control_system())::text AS sysid, current_setting('data_checksums') AS checksums");
    } finally {
      await closePg(client);
    }
    if (server.sysid !== control.systemIdentifier) {
      throw new CliError(
        `data directory "${pgdata}" (system identifier ${control.systemIdentifier}) is not the cluster the connection reaches (system identifier ${server.sysid}): check -D and -h/-p`,
      );
    }
    const checksums = server.checksums === 'on';
    if (!checksums) ctx.logger.warning('Data checksums are not enabled in the cluster: pages are checked for sane headers only');
    const files = (await listDataFiles(pgdata)).sort((a, b) => b.size - a.size);
    ctx.logger.info('Start checking data files');
    let bad = 0;
    let done = 0;
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < files.length; i = next++) {
        const f = files[i];
        await checkDataFile(f, checksums, (block, what) => {
          bad++;
          ctx.logger.warning(`Corruption detected in file "${f.abs}", block ${block}: ${what}`);
        });
        done++;
        if (opts.progress) ctx.logger.info(`Progress: (${done}/${files.length}). Process file "${f.rel}"`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.threads ?? 1, files.length)) }, lane));
    if (bad > 0) throw new CliError('Checkdb failed');
    ctx.logger.info('Data files are valid');
  }
  if (opts.amcheck) {
    if (opts.checkunique) ctx.logger.warning("Extension 'amcheck' of PostgreSQL 15 does not support 'checkunique' parameter");
    const r = await amcheckCluster({
      connection: t.connection,
      threads: opts.threads ?? 1,
      heapallindexed: opts.heapallindexed ?? false,
      parent: opts.parent ?? false,
      info: (m) => ctx.logger.info(m),
      warning: (m) => ctx.logger.warning(m),
      log: (m) => ctx.logger.log(m),
    });
    if (!r.ok) {
      throw new CliError(`checkdb --amcheck finished with failure. Not all checked indexes are valid. ${r.skipped ? 'Some databases were not amchecked.' : 'All databases were amchecked.'}`);
    }
    ctx.logger.info('checkdb --amcheck finished successfully. All checked indexes are valid.');
    if (r.skipped) throw new CliError('Some databases were not amchecked.');
    ctx.logger.info('All databases were amchecked.');
  }
  return 0;
}
