/**
 * The backup workflow's one JSON argument, built from the validated command line and the
 * instance's resolved settings. No password goes in: workers read PGPASSWORD or ~/.pgpass.
 */
import type { BackupRequest } from '../../core/requests';
import { CliError } from '../errors';
import type { BackupOptions } from '../options/commands';
import type { ResolvedInstanceOptions } from '../resolveInstanceOptions';

export function buildBackupRequest(opts: BackupOptions, r: ResolvedInstanceOptions): BackupRequest {
  if (opts.backupMode !== 'FULL' && opts.backupMode !== 'DELTA') {
    throw new CliError(`option -b/--backup-mode: invalid value "${opts.backupMode}": only FULL and DELTA backups are implemented so far`);
  }
  if (!r.pgdata) {
    throw new CliError(`no data directory for instance '${r.instance}': give -D/--pgdata, or store it with "gs_probackup set-config --instance=${r.instance} -D <path>"`);
  }
  if (!r.systemIdentifier) {
    throw new CliError(`pg_probackup.conf of instance '${r.instance}' has no system-identifier: recreate the instance with add-instance`);
  }
  return {
    backupPath: r.backupPath,
    instance: r.instance,
    backupMode: opts.backupMode,
    pgdata: r.pgdata,
    systemIdentifier: r.systemIdentifier,
    xlogSegSize: r.xlogSegSize,
    connection: { ...r.connection },
    threads: opts.threads ?? 1,
    smoothCheckpoint: opts.smoothCheckpoint ?? false,
    slot: opts.slot,
    tempSlot: opts.tempSlot ?? false,
    backupPgLog: opts.backupPgLog ?? false,
    backupPgReplslot: opts.backupPgReplslot ?? false,
    externalDirs: r.externalDirs,
    noValidate: opts.noValidate ?? false,
    noSync: opts.noSync ?? false,
    skipBlockValidation: opts.skipBlockValidation ?? false,
    note: opts.note,
    compressAlg: r.compressAlg,
    compressLevel: r.compressLevel,
    archiveTimeoutSec: r.archiveTimeoutSec,
    rwTimeoutSec: r.rwTimeoutSec,
    ttlSec: opts.ttl,
    expireTime: opts.expireTime,
  };
}

/**
 * -W: the password never enters a workflow argument (history is visible in the Web UI). The
 * in-process worker of embedded mode reads it from this process's PGPASSWORD; remote workers use
 * their own environment or ~/.pgpass.
 */
export function passwordForWorker(password: string | undefined, ctx: { env: Record<string, string | undefined>; logger: { warning(m: string): void } }): void {
  if (password === undefined) return;
  if (ctx.env.TEMPORAL_ADDRESS) {
    ctx.logger.warning('-W/--password is not sent to remote workers: give them PGPASSWORD or ~/.pgpass');
    return;
  }
  process.env.PGPASSWORD = password;
}
