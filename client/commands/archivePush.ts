import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { catalogPaths } from '../../core/catalogPaths';
import { parsePgControl } from '../../core/pgControl';
import { prettyDuration } from '../../core/show';
import { walFileNameProblem } from '../../core/walFileName';
import { markDone, pushWalFile, readyFiles, WalArchiveError, type PushOptions } from '../../activities/archive/walArchive';
import type { CommandContext } from '../context';
import { CliError } from '../errors';
import { openInstance } from '../instance';
import type { ArchivePushOptions } from '../options/commands';

/** The system identifier of the cluster whose pg_control is under `pgdata`, or null without one. */
async function systemIdentifierAt(pgdata: string): Promise<string | null> {
  try {
    return parsePgControl(await fs.readFile(path.join(pgdata, 'global', 'pg_control'))).systemIdentifier;
  } catch {
    return null;
  }
}

/**
 * archive_command (spec §13): copies the WAL file PostgreSQL names into wal/<instance>, and with
 * --batch-size the next files it has marked ready. Never needs Temporal: PostgreSQL waits on it.
 * PostgreSQL runs it in PGDATA, where %p (--wal-file-path) is relative to.
 */
export async function archivePushCommand(opts: ArchivePushOptions, ctx: CommandContext): Promise<number> {
  // PostgreSQL runs this with the PGDATA pg_ctl was given, maybe relative: the command works in
  // the directory PostgreSQL runs it in and has no use for it.
  const resolved = await openInstance(opts, { ...ctx, env: { ...ctx.env, PGDATA: undefined } });
  const name = opts.walFileName;
  const problem = walFileNameProblem(name);
  if (problem) throw new CliError(`option --wal-file-name: invalid value "${name}": ${problem}`);
  const cwd = process.cwd();
  let walDir = path.join(cwd, 'pg_wal');
  let clusterDir: string | null = cwd;
  let batch = opts.batchSize ?? 1;
  let threads = opts.threads ?? 1;
  let noReadyRename = opts.noReadyRename ?? false;
  if (opts.walFilePath !== undefined) {
    const file = path.resolve(cwd, opts.walFilePath);
    if (path.basename(file) !== name) throw new CliError(`option --wal-file-path: "${opts.walFilePath}" does not name the file of --wal-file-name "${name}"`);
    walDir = path.dirname(file);
    // The instance's pg_wal, or another cluster's (a standby archiving too) with its own pg_control.
    clusterDir = path.dirname(walDir);
    if ((await systemIdentifierAt(clusterDir)) === null) {
      clusterDir = null;
      if (batch > 1 || threads > 1 || !noReadyRename) {
        ctx.logger.warning('Supplied --wal-file-path is outside pgdata, force safe values for options: --batch-size=1 -j 1 --no-ready-rename');
        batch = 1;
        threads = 1;
        noReadyRename = true;
      }
    }
  }
  if (clusterDir !== null) {
    const sysid = await systemIdentifierAt(clusterDir);
    if (sysid !== resolved.systemIdentifier) {
      throw new CliError(
        `Refuse to push WAL segment ${name} into archive. Instance parameters mismatch. Instance '${resolved.instance}' should have ` +
          `SYSTEM_ID = ${resolved.systemIdentifier} instead of ${sysid ?? `none (no readable "${path.join(clusterDir, 'global', 'pg_control')}")`}`,
      );
    }
  }
  const compress = resolved.compressAlg === 'zlib';
  const files = [name, ...(await readyFiles(walDir, name, batch))];
  const workers = Math.min(threads, files.length);
  ctx.logger.info(`gs_probackup archive-push WAL file: ${name}, threads: ${workers}/${threads}, batch: ${files.length}/${batch}, compression: ${compress ? 'zlib' : 'none'}`);
  const push: PushOptions = {
    walDir,
    archiveDir: catalogPaths.instanceWalDir(resolved.backupPath, resolved.instance),
    gzipLevel: compress ? resolved.compressLevel : null,
    overwrite: opts.overwrite ?? false,
    noSync: opts.noSync ?? false,
    archiveTimeoutSec: resolved.archiveTimeoutSec,
    log: (level, msg) => (level === 'WARNING' ? ctx.logger.warning(msg) : ctx.logger.log(msg)),
  };
  const started = process.hrtime.bigint();
  const counts = { pushed: 0, skipped: 0, failed: 0 };
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < files.length; i = next++) {
      const f = files[i];
      try {
        ctx.logger.log(`pushing file "${f}"`);
        counts[await pushWalFile(f, push)]++;
        // PostgreSQL marks the file it asked for itself; the others it would otherwise push again.
        if (f !== name && !noReadyRename) await markDone(walDir, f, push.log);
      } catch (e) {
        counts.failed++;
        if (!(e instanceof WalArchiveError)) throw e;
        ctx.logger.warning(e.message);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, lane));
  const elapsed = prettyDuration(Number(process.hrtime.bigint() - started) / 1e9);
  if (counts.failed > 0) {
    throw new CliError(`gs_probackup archive-push failed, pushed: ${counts.pushed}, skipped: ${counts.skipped}, failed: ${counts.failed}, time elapsed: ${elapsed}`);
  }
  ctx.logger.info(`gs_probackup archive-push completed successfully, pushed: ${counts.pushed}, skipped: ${counts.skipped}, time elapsed: ${elapsed}`);
  return 0;
}
