import * as path from 'node:path';
import { catalogPaths } from '../../core/catalogPaths';
import { prettyDuration } from '../../core/show';
import { walFileNameProblem } from '../../core/walFileName';
import { getWalFile, WalArchiveError } from '../../activities/archive/walArchive';
import type { CommandContext } from '../context';
import { CliError, NotImplementedError } from '../errors';
import { openInstance } from '../instance';
import type { ArchiveGetOptions } from '../options/commands';

/**
 * restore_command (spec §13): copies the WAL file recovery asks for out of wal/<instance> to
 * --wal-file-path (relative to PGDATA, where PostgreSQL runs it). Exit 1 when the archive does not
 * have it, which recovery reads as the end of the archive. Never needs Temporal.
 */
export async function archiveGetCommand(opts: ArchiveGetOptions, ctx: CommandContext): Promise<number> {
  // PostgreSQL runs this with the PGDATA pg_ctl was given, maybe relative: the command works in
  // the directory PostgreSQL runs it in and has no use for it.
  const resolved = await openInstance(opts, { ...ctx, env: { ...ctx.env, PGDATA: undefined } });
  if ((opts.batchSize ?? 1) > 1 || opts.prefetchDir !== undefined || opts.noValidateWal) {
    throw new NotImplementedError('archive-get prefetch (--batch-size above 1, --prefetch-dir, --no-validate-wal)');
  }
  const name = opts.walFileName;
  const problem = walFileNameProblem(name);
  if (problem) throw new CliError(`option --wal-file-name: invalid value "${name}": ${problem}`);
  const dest = path.resolve(process.cwd(), opts.walFilePath);
  const threads = opts.threads ?? 1;
  ctx.logger.info(`gs_probackup archive-get WAL file: ${name}, remote: none, threads: 1/${threads}, batch: 1`);
  const started = process.hrtime.bigint();
  const archiveDir = catalogPaths.instanceWalDir(resolved.backupPath, resolved.instance);
  const log = (level: 'LOG' | 'WARNING', msg: string) => (level === 'WARNING' ? ctx.logger.warning(msg) : ctx.logger.log(msg));
  let got = false;
  // A read that fails (not a missing file) is tried three times, as pg_probackup does.
  for (let attempt = 1; attempt <= 3 && !got; attempt++) {
    try {
      got = await getWalFile(name, archiveDir, dest, resolved.xlogSegSize, log);
      if (!got) break;
    } catch (e) {
      if (!(e instanceof WalArchiveError)) throw e;
      ctx.logger.warning(e.message);
      ctx.logger.log(`Failed to get WAL file ${name}, retry ${attempt}/3`);
    }
  }
  const elapsed = prettyDuration(Number(process.hrtime.bigint() - started) / 1e9);
  if (!got) throw new CliError(`gs_probackup archive-get failed to deliver WAL file: ${name}, time elapsed: ${elapsed}`);
  ctx.logger.info(`gs_probackup archive-get completed successfully, fetched: 1/1, time elapsed: ${elapsed}`);
  return 0;
}
