/**
 * Every command-line option of gs_probackup (manual) and pg_probackup 2.5 (Appendix A), once.
 * The per-command schemas in ./commands.ts pick from this table; parsing, validation and --help
 * all read it, so an option's spelling, value rule and help line cannot drift apart.
 */
import { z } from 'zod';
import { BACKUP_MODES, BACKUP_STATUSES, COMPRESS_ALGS } from '../../core/types';
import { LOG_FORMATS, LOG_LEVELS } from '../../core/instanceConfig';
import * as V from '../../core/options/valueSchemas';

export const HELP_GROUPS = {
  common: 'Common options',
  backup: 'Backup options',
  restore: 'Restore options',
  partial: 'Partial restore options',
  replica: 'Replica options',
  recovery: 'Recovery target options',
  retention: 'Retention options',
  pinning: 'Pinning options',
  archive: 'Archive options',
  checkdb: 'Checkdb options',
  catchup: 'Catchup options',
  worker: 'Worker options',
  logging: 'Logging options',
  connection: 'Connection options',
  compression: 'Compression options',
  remote: 'Remote options',
  dss: 'DSS options (openGauss shared storage)',
} as const;
export type HelpGroup = keyof typeof HELP_GROUPS;

interface OptBase {
  long: string;
  short?: string;
  /** Older spellings pg_probackup still accepts (--time for --recovery-target-time). */
  aliases?: readonly string[];
  group: HelpGroup;
  help: string;
  /** Environment variable that supplies the value when the option is absent (shown in help). */
  env?: string;
}
export interface FlagOpt extends OptBase {
  kind: 'flag';
}
export interface ValueOpt<T> extends OptBase {
  kind: 'value';
  arg: string;
  schema: V.TextSchema<T>;
}
export interface ListOpt<T> extends OptBase {
  kind: 'list';
  arg: string;
  schema: V.TextSchema<T>;
}
export type OptionDef = FlagOpt | ValueOpt<unknown> | ListOpt<unknown>;

export type OptOutput<D> = D extends FlagOpt ? boolean : D extends ListOpt<infer T> ? T[] : D extends ValueOpt<infer T> ? T : never;

const flag = (long: string, group: HelpGroup, help: string, extra: Partial<OptBase> = {}): FlagOpt => ({ kind: 'flag', long, group, help, ...extra });
function value<T>(long: string, arg: string, schema: V.TextSchema<T>, group: HelpGroup, help: string, extra: Partial<OptBase> = {}): ValueOpt<T> {
  return { kind: 'value', long, arg, schema, group, help, ...extra };
}
function list<T>(long: string, arg: string, schema: V.TextSchema<T>, group: HelpGroup, help: string, extra: Partial<OptBase> = {}): ListOpt<T> {
  return { kind: 'list', long, arg, schema, group, help, ...extra };
}

const text = () => V.nonEmptyText();
const logLevel = () => V.choice(LOG_LEVELS);
const INT_MAX = 2147483647;

export const OPTIONS = {
  help: flag('help', 'common', 'show this help, then exit'),
  // common
  backupPath: value('backup-path', 'backup-path', V.absolutePath(), 'common', 'location of the backup catalog', { short: 'B', env: 'BACKUP_PATH' }),
  instance: value('instance', 'instance-name', V.instanceName(), 'common', 'name of the instance'),
  pgdata: value('pgdata', 'pgdata-path', V.absolutePath(), 'common', 'location of the database cluster data directory', { short: 'D', env: 'PGDATA' }),
  backupId: value('backup-id', 'backup-id', V.backupId(), 'common', 'backup to operate on', { short: 'i' }),
  threads: value('threads', 'num-threads', V.intRange(1, 1024), 'common', 'number of parallel threads', { short: 'j' }),
  progress: flag('progress', 'common', 'show progress'),
  noSync: flag('no-sync', 'common', 'do not sync written files to disk'),
  noColor: flag('no-color', 'common', 'disable coloring of the show output'),
  format: value('format', 'plain|json', V.choice(['plain', 'json'] as const), 'common', 'output format (default plain)'),
  archive: flag('archive', 'common', 'show the WAL archive instead of backups'),
  noScaleUnits: flag('no-scale-units', 'common', 'print time and size values in their base units'),
  note: value('note', 'text', z.string(), 'common', "attach a note to the backup ('none' removes it)"),
  dryRun: flag('dry-run', 'common', 'show what would be done without changing anything'),
  // backup
  backupMode: value('backup-mode', 'backup-mode', V.choice(BACKUP_MODES), 'backup', 'backup mode: FULL, PTRACK (gs_probackup), PAGE or DELTA', { short: 'b' }),
  stream: flag('stream', 'backup', 'stream the WAL needed to restore the backup into it'),
  smoothCheckpoint: flag('smooth-checkpoint', 'backup', 'spread out the start checkpoint instead of forcing it', { short: 'C' }),
  slot: value('slot', 'slot-name', text(), 'backup', 'replication slot for WAL streaming', { short: 'S' }),
  tempSlot: flag('temp-slot', 'backup', 'use a temporary replication slot for WAL streaming'),
  permSlot: flag('perm-slot', 'backup', 'create a permanent replication slot for WAL streaming', { short: 'P' }),
  backupPgLog: flag('backup-pg-log', 'backup', 'include the server log directory in the backup'),
  backupPgReplslot: flag('backup-pg-replslot', 'backup', 'include logical replication slots (pg_replslot) in the backup'),
  externalDirs: value('external-dirs', 'external-directories-paths', V.externalDirs(), 'backup', "back up these directories too (absolute paths separated by ':')", { short: 'E' }),
  skipBlockValidation: flag('skip-block-validation', 'backup', 'skip page-level checks, verify files only'),
  noValidate: flag('no-validate', 'backup', 'skip validation of the backup'),
  archiveTimeout: value('archive-timeout', 'timeout', V.unitValue('s', 1, INT_MAX), 'backup', 'how long to wait for WAL streaming or archiving (default 5min; unit s)'),
  rwTimeout: value('rw-timeout', 'rwtimeout', V.unitValue('s', 1, INT_MAX), 'backup', 'timeout of a connection read or write (default 120s; unit s)', { short: 't' }),
  // restore
  incrementalMode: value('incremental-mode', 'none|checksum|lsn', V.choice(['none', 'checksum', 'lsn'] as const), 'restore', 'reuse unchanged pages already in PGDATA (default none)', { short: 'I' }),
  externalMapping: list('external-mapping', 'OLDDIR=NEWDIR', V.dirMapping(), 'restore', 'restore an external directory to a new location (repeatable)'),
  tablespaceMapping: list('tablespace-mapping', 'OLDDIR=NEWDIR', V.dirMapping(), 'restore', 'restore a tablespace to a new location (repeatable)', { short: 'T' }),
  skipExternalDirs: flag('skip-external-dirs', 'restore', 'do not restore external directories'),
  force: flag('force', 'restore', 'restore from a backup in an invalid state, or into a non-empty PGDATA'),
  waldir: value('waldir', 'WALDIR', V.absolutePath(), 'restore', 'location for the write-ahead log directory', { short: 'X' }),
  restoreCommand: value('restore-command', 'cmdline', text(), 'restore', 'restore_command to write into the recovery configuration'),
  archiveHost: value('archive-host', 'destination', text(), 'archive', 'host of the backup catalog for the generated restore_command'),
  archivePort: value('archive-port', 'port', V.port(), 'archive', 'SSH port of the archive host'),
  archiveUser: value('archive-user', 'username', text(), 'archive', 'user on the archive host'),
  dbInclude: list('db-include', 'dbname', text(), 'partial', 'restore only these databases (repeatable)'),
  dbExclude: list('db-exclude', 'dbname', text(), 'partial', 'do not restore these databases (repeatable)'),
  destroyAllOtherDbs: flag('destroy-all-other-dbs', 'partial', 'allow an incremental partial restore to wipe the other databases'),
  restoreAsReplica: flag('restore-as-replica', 'replica', 'start the restored cluster as a standby: standby.signal and primary_conninfo', { short: 'R' }),
  primaryConninfo: value('primary-conninfo', 'primary_conninfo', text(), 'replica', "the standby's primary_conninfo (default: the connection the backup recorded)"),
  primarySlotName: value('primary-slot-name', 'slotname', text(), 'replica', "the standby's primary_slot_name (implies -R)", { short: 'S' }),
  // recovery target
  recoveryTarget: value('recovery-target', 'immediate|latest', V.choice(['immediate', 'latest'] as const), 'recovery', 'end recovery at consistency (immediate) or at the end of WAL (latest)'),
  recoveryTargetTime: value('recovery-target-time', 'time', V.timestamp(), 'recovery', 'recover up to this time', { aliases: ['time'] }),
  recoveryTargetXid: value('recovery-target-xid', 'xid', V.uint64Text(), 'recovery', 'recover up to this transaction ID', { aliases: ['xid'] }),
  recoveryTargetLsn: value('recovery-target-lsn', 'lsn', V.lsn(), 'recovery', 'recover up to this LSN', { aliases: ['lsn'] }),
  recoveryTargetName: value('recovery-target-name', 'target-name', text(), 'recovery', 'recover up to this named restore point'),
  recoveryTargetInclusive: value('recovery-target-inclusive', 'boolean', V.boolText(), 'recovery', 'stop just after (true) or just before (false) the target', { aliases: ['inclusive'] }),
  recoveryTargetTimeline: value('recovery-target-timeline', 'timeline', z.string().transform((s, ctx) => {
    if (s === 'latest' || s === 'current') return s;
    if (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 4294967295) return Number(s);
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a timeline ID (1 or more), latest or current' });
    return z.NEVER;
  }), 'recovery', 'recover into this timeline', { aliases: ['timeline'] }),
  recoveryTargetAction: value('recovery-target-action', 'pause|promote|shutdown', V.choice(['pause', 'promote', 'shutdown'] as const), 'recovery', 'what the server does when the target is reached'),
  immediate: flag('immediate', 'recovery', 'same as --recovery-target=immediate (legacy)'),
  // retention
  retentionRedundancy: value('retention-redundancy', 'retention-redundancy', V.uint32(), 'retention', 'number of full backups to keep (0 = off)'),
  retentionWindow: value('retention-window', 'retention-window', V.uint32(), 'retention', 'number of days of recoverability to keep (0 = off)'),
  walDepth: value('wal-depth', 'wal-depth', V.uint32(), 'retention', 'number of backups per timeline whose WAL is kept for PITR (0 = off)'),
  deleteWal: flag('delete-wal', 'retention', 'purge the WAL archive of WAL no backup needs (empty here: backups carry their WAL)', { aliases: ['wal'] }),
  deleteExpired: flag('delete-expired', 'retention', 'delete backups outside the retention policy', { aliases: ['expired'] }),
  mergeExpired: flag('merge-expired', 'retention', 'merge expired chains into the incremental backups within the policy'),
  status: value('status', 'backup-status', V.choice(BACKUP_STATUSES), 'retention', 'delete all backups with this status'),
  // pinning
  ttl: value('ttl', 'interval', V.unitValue('s', 0), 'pinning', 'keep the backup this long after its recovery time (unit s; 0 unpins), e.g. 30d'),
  expireTime: value('expire-time', 'timestamp', V.timestamp(), 'pinning', "keep the backup until this ISO-8601 time, e.g. '2030-01-01 00:00:00+03'"),
  // archive-push / archive-get
  walFilePath: value('wal-file-path', 'wal-file-path', text(), 'archive', 'path of the WAL file (%p)'),
  walFileName: value('wal-file-name', 'wal-file-name', text(), 'archive', 'name of the WAL file (%f)'),
  overwrite: flag('overwrite', 'archive', 'overwrite a different file of the same name in the archive'),
  noReadyRename: flag('no-ready-rename', 'archive', 'do not rename .ready files of a batch to .done'),
  batchSize: value('batch-size', 'batch_size', V.intRange(1, INT_MAX), 'archive', 'files to push or prefetch in one call'),
  prefetchDir: value('prefetch-dir', 'path', V.absolutePath(), 'archive', 'directory for prefetched WAL (default PGDATA/pg_wal/pbk_prefetch)'),
  noValidateWal: flag('no-validate-wal', 'archive', 'do not check prefetched WAL before using it'),
  // checkdb
  amcheck: flag('amcheck', 'checkdb', 'check indexes with the amcheck extension'),
  heapallindexed: flag('heapallindexed', 'checkdb', 'with --amcheck: check that all heap tuples are indexed'),
  checkunique: flag('checkunique', 'checkdb', 'with --amcheck: check unique constraints'),
  parent: flag('parent', 'checkdb', 'with --amcheck: check parent/child relationships in B-tree indexes'),
  // catchup
  catchupMode: value('backup-mode', 'catchup-mode', V.choice(['FULL', 'DELTA', 'PTRACK'] as const), 'catchup', 'catchup mode: FULL, DELTA or PTRACK', { short: 'b' }),
  sourcePgdata: value('source-pgdata', 'path', V.absolutePath(), 'catchup', 'data directory of the source server'),
  destinationPgdata: value('destination-pgdata', 'path', V.absolutePath(), 'catchup', 'local directory to bring up to date'),
  excludePath: list('exclude-path', 'path_prefix', text(), 'catchup', 'do not copy files under this path (repeatable)', { short: 'x' }),
  // worker
  taskQueue: value('task-queue', 'name', text(), 'worker', 'Temporal task queue to poll (default gs_probackup)'),
  // logging
  logLevelConsole: value('log-level-console', 'level', logLevel(), 'logging', 'console level: off, verbose, log, info, warning, error (default info)'),
  logLevelFile: value('log-level-file', 'level', logLevel(), 'logging', 'log file level (default off)'),
  logFormatConsole: value('log-format-console', 'plain|json', V.choice(LOG_FORMATS), 'logging', 'console log format (default plain)'),
  logFormatFile: value('log-format-file', 'plain|json', V.choice(LOG_FORMATS), 'logging', 'log file format (default plain)'),
  logFilename: value('log-filename', 'log-filename', text(), 'logging', 'log file name, strftime %-escapes allowed (default pg_probackup.log)'),
  errorLogFilename: value('error-log-filename', 'error-log-filename', text(), 'logging', 'file that receives ERROR messages only'),
  logDirectory: value('log-directory', 'log-directory', V.absolutePath(), 'logging', 'directory of the log files (default $BACKUP_PATH/log)'),
  logRotationSize: value('log-rotation-size', 'log-rotation-size', V.unitValue('kB'), 'logging', 'rotate the log file at this size (unit kB; 0 = off)'),
  logRotationAge: value('log-rotation-age', 'log-rotation-age', V.unitValue('ms'), 'logging', 'rotate the log file at this age (unit ms; 0 = off), e.g. 1d'),
  // connection
  pgdatabase: value('pgdatabase', 'dbname', text(), 'connection', 'database to connect to', { short: 'd', env: 'PGDATABASE' }),
  pghost: value('pghost', 'hostname', text(), 'connection', 'database server host or socket directory', { short: 'h', env: 'PGHOST' }),
  pgport: value('pgport', 'port', V.port(), 'connection', 'database server port', { short: 'p', env: 'PGPORT' }),
  pguser: value('pguser', 'username', text(), 'connection', 'user name to connect as', { short: 'U', env: 'PGUSER' }),
  noPassword: flag('no-password', 'connection', 'never prompt for a password', { short: 'w' }),
  password: value('password', 'password', z.string(), 'connection', 'password of the user (prefer ~/.pgpass)', { short: 'W' }),
  // compression
  compress: flag('compress', 'compression', 'same as --compress-algorithm=zlib'),
  compressAlgorithm: value('compress-algorithm', 'algorithm', V.choice(COMPRESS_ALGS), 'compression', 'none, zlib or pglz (default none)'),
  compressLevel: value('compress-level', 'level', V.intRange(0, 9), 'compression', 'compression level 0-9 (default 1)'),
  // remote
  remoteProto: value('remote-proto', 'ssh|none', V.choice(['ssh', 'none'] as const), 'remote', 'remote protocol (default ssh)'),
  remoteHost: value('remote-host', 'destination', text(), 'remote', 'remote host of the database server'),
  remotePort: value('remote-port', 'port', V.port(), 'remote', 'SSH port of the remote host (default 22)'),
  remotePath: value('remote-path', 'path', V.absolutePath(), 'remote', 'installation directory of gs_probackup on the remote host'),
  remoteUser: value('remote-user', 'username', text(), 'remote', 'user on the remote host (default: current user)'),
  remoteLibpath: value('remote-libpath', 'libpath', V.absolutePath(), 'remote', 'library directory of gs_probackup on the remote host'),
  sshOptions: value('ssh-options', 'ssh_options', text(), 'remote', "extra ssh arguments, e.g. '-c cipher_spec -F configfile'"),
  sshConfig: value('ssh-config', 'path', V.absolutePath(), 'remote', 'ssh configuration file'),
  // replica / archive settings kept in pg_probackup.conf
  masterDb: value('master-db', 'dbname', text(), 'replica', 'database on the primary (PostgreSQL 9.5 replicas only)'),
  masterHost: value('master-host', 'hostname', text(), 'replica', 'host of the primary (PostgreSQL 9.5 replicas only)'),
  masterPort: value('master-port', 'port', V.port(), 'replica', 'port of the primary (PostgreSQL 9.5 replicas only)'),
  masterUser: value('master-user', 'username', text(), 'replica', 'user on the primary (PostgreSQL 9.5 replicas only)'),
  replicaTimeout: value('replica-timeout', 'timeout', V.unitValue('s'), 'replica', 'deprecated, kept for configuration compatibility'),
  // DSS (openGauss shared storage): accepted so scripts parse, refused by add-instance
  enableDss: flag('enable-dss', 'dss', 'enable DSS mode'),
  instanceId: value('instance-id', 'node-id', V.intRange(0, 63), 'dss', 'ID of the database node in DSS mode'),
  vgname: value('vgname', 'vgname', text(), 'dss', 'volume group names in DSS mode'),
  socketpath: value('socketpath', 'path', text(), 'dss', 'socket file of the DSS process'),
} as const satisfies Record<string, OptionDef>;

export type OptionKey = keyof typeof OPTIONS;
export type Options = typeof OPTIONS;

/** `-j/--threads` or `--instance`: how an error message names an option. */
export function optionLabel(def: OptionDef): string {
  return def.short ? `-${def.short}/--${def.long}` : `--${def.long}`;
}
