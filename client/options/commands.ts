/**
 * One schema per subcommand: which options it takes, which are required, and the rules that
 * involve several options. The zod object built here is what validates a command line; --help
 * and the synopsis are generated from the same lists.
 */
import { z } from 'zod';
import { OPTIONS, type FlagOpt, type ListOpt, type OptionKey, type OptOutput, type ValueOpt } from './optionDefs';

const LOGGING = [
  'logLevelConsole', 'logLevelFile', 'logFormatConsole', 'logFormatFile', 'logFilename', 'errorLogFilename',
  'logDirectory', 'logRotationSize', 'logRotationAge',
] as const;
const CONNECTION = ['pgdatabase', 'pghost', 'pgport', 'pguser', 'noPassword', 'password'] as const;
const REMOTE = ['remoteProto', 'remoteHost', 'remotePort', 'remotePath', 'remoteUser', 'remoteLibpath', 'sshOptions', 'sshConfig'] as const;
const COMPRESSION = ['compress', 'compressAlgorithm', 'compressLevel'] as const;
const RETENTION_SETTINGS = ['retentionRedundancy', 'retentionWindow', 'walDepth'] as const;
const RETENTION_ACTIONS = ['deleteExpired', 'mergeExpired', 'deleteWal'] as const;
const PINNING = ['ttl', 'expireTime'] as const;
const RECOVERY = [
  'recoveryTarget', 'recoveryTargetTime', 'recoveryTargetXid', 'recoveryTargetLsn', 'recoveryTargetName',
  'recoveryTargetInclusive', 'recoveryTargetTimeline', 'recoveryTargetAction', 'immediate',
] as const;
/** Everything pg_probackup.conf can hold that a user may set (set-config, add-instance). */
const SETTABLE = [
  'pgdata', 'externalDirs', 'pgdatabase', 'pghost', 'pgport', 'pguser',
  'masterDb', 'masterHost', 'masterPort', 'masterUser', 'replicaTimeout',
  'archiveTimeout', 'archiveHost', 'archivePort', 'archiveUser', 'restoreCommand',
  ...LOGGING, ...RETENTION_SETTINGS, 'compressAlgorithm', 'compressLevel', ...REMOTE,
] as const;

type Def<K extends OptionKey> = (typeof OPTIONS)[K];
type FieldSchema<K extends OptionKey> = z.ZodType<OptOutput<Def<K>>, z.ZodTypeDef, unknown>;

/** The typed result of a command line: required options present, the others optional. */
export type ParsedOptions<K extends OptionKey, R extends K> = { [P in R]: OptOutput<Def<P>> } & { [P in Exclude<K, R>]?: OptOutput<Def<P>> };

export interface Issue {
  message: string;
}

export interface CommandSpec<K extends OptionKey = OptionKey, R extends K = K> {
  name: string;
  summary: string;
  keys: readonly K[];
  required: readonly R[];
  /** Whether -B / BACKUP_PATH is needed (required) or optional; absent = not accepted. */
  schema: z.ZodType<ParsedOptions<K, R>, z.ZodTypeDef, unknown>;
  /** Extra synopsis text after the required options, as in the manual. */
  usage?: string;
  /** Words after the command (help's [command]). */
  positional?: string;
}

function fieldSchema(key: OptionKey): z.ZodTypeAny {
  const def = OPTIONS[key] as FlagOpt | ValueOpt<unknown> | ListOpt<unknown>;
  if (def.kind === 'flag') return z.boolean();
  if (def.kind === 'list') return z.array(def.schema);
  return def.schema;
}

type Rule<K extends OptionKey, R extends K> = (o: ParsedOptions<K, R>, issue: (message: string) => void) => void;

function command<const K extends OptionKey, const R extends K>(spec: {
  name: string;
  summary: string;
  keys: readonly K[];
  required: readonly R[];
  usage?: string;
  positional?: string;
  rules?: Rule<K, R>;
}): CommandSpec<K, R> {
  const shape: Record<string, z.ZodTypeAny> = {};
  for (const k of spec.keys) {
    const s = fieldSchema(k);
    shape[k] = (spec.required as readonly string[]).includes(k) ? s : s.optional();
  }
  const rules = spec.rules;
  const schema = z
    .object(shape)
    .strict()
    .superRefine((o, ctx) => {
      rules?.(o as ParsedOptions<K, R>, (message) => ctx.addIssue({ code: z.ZodIssueCode.custom, message, path: [] }));
    }) as unknown as z.ZodType<ParsedOptions<K, R>, z.ZodTypeDef, unknown>;
  return { name: spec.name, summary: spec.summary, keys: spec.keys, required: spec.required, schema, usage: spec.usage, positional: spec.positional };
}

function atMostOne(o: Record<string, unknown>, keys: readonly string[], issue: (m: string) => void, what: string): void {
  const given = keys.filter((k) => o[k] !== undefined && o[k] !== false);
  if (given.length > 1) {
    const names = given.map((k) => `--${OPTIONS[k as OptionKey].long}`);
    issue(`options ${names.join(' and ')} cannot be used together: ${what}`);
  }
}

const pinningRules = (o: { ttl?: number; expireTime?: number }, issue: (m: string) => void) =>
  atMostOne(o, ['ttl', 'expireTime'], issue, 'pin a backup either for a time (--ttl) or until a time (--expire-time)');

function recoveryRules(o: Record<string, unknown>, issue: (m: string) => void): void {
  const targets = ['recoveryTarget', 'immediate', 'recoveryTargetTime', 'recoveryTargetXid', 'recoveryTargetLsn', 'recoveryTargetName'];
  atMostOne(o, targets, issue, 'give one recovery target');
  if (o.recoveryTargetInclusive !== undefined && !['recoveryTargetTime', 'recoveryTargetXid', 'recoveryTargetLsn', 'recoveryTargetName'].some((k) => o[k] !== undefined)) {
    issue('option --recovery-target-inclusive needs a recovery target: --recovery-target-time, --recovery-target-xid, --recovery-target-lsn or --recovery-target-name');
  }
}

export const COMMANDS = {
  init: command({ name: 'init', summary: 'create a backup catalog', keys: ['help', 'backupPath', ...LOGGING], required: ['backupPath'] }),
  'add-instance': command({
    name: 'add-instance',
    summary: 'add a database instance to the backup catalog',
    keys: ['help', 'backupPath', 'instance', ...SETTABLE, 'enableDss', 'instanceId', 'vgname', 'socketpath'],
    required: ['backupPath', 'instance'],
    usage: '-D pgdata-path [-E external-directories-paths] [remote_options]',
  }),
  'del-instance': command({
    name: 'del-instance',
    summary: 'delete an instance and all its backups and WAL from the catalog',
    keys: ['help', 'backupPath', 'instance', ...LOGGING],
    required: ['backupPath', 'instance'],
  }),
  'set-config': command({
    name: 'set-config',
    summary: "change settings in the instance's pg_probackup.conf",
    keys: ['help', 'backupPath', 'instance', ...SETTABLE],
    required: ['backupPath', 'instance'],
    rules: (o, issue) => {
      if (o.logFormatConsole !== undefined) issue('option --log-format-console cannot be stored by set-config: give it on the command line of each command');
    },
  }),
  'set-backup': command({
    name: 'set-backup',
    summary: 'pin, unpin or annotate a backup',
    keys: ['help', 'backupPath', 'instance', 'backupId', 'note', ...PINNING, ...LOGGING],
    required: ['backupPath', 'instance', 'backupId'],
    usage: '[--note=text] [--ttl=interval | --expire-time=timestamp]',
    rules: (o, issue) => {
      pinningRules(o, issue);
      if (o.ttl === undefined && o.expireTime === undefined && o.note === undefined) {
        issue('nothing to set: give --ttl, --expire-time or --note');
      }
    },
  }),
  'show-config': command({
    name: 'show-config',
    summary: "show the instance's settings",
    keys: ['help', 'backupPath', 'instance', 'format', 'noScaleUnits', ...LOGGING],
    required: ['backupPath', 'instance'],
  }),
  show: command({
    name: 'show',
    summary: 'list backups, or show one backup or the WAL archive',
    keys: ['help', 'backupPath', 'instance', 'backupId', 'archive', 'format', 'noColor', ...LOGGING],
    required: ['backupPath'],
    usage: '[--instance=instance-name [-i backup-id]] [--archive] [--format=plain|json]',
    rules: (o, issue) => {
      if (o.backupId !== undefined && o.instance === undefined) issue('option -i/--backup-id needs --instance');
      if (o.backupId !== undefined && o.archive) issue('options -i/--backup-id and --archive cannot be used together');
    },
  }),
  backup: command({
    name: 'backup',
    summary: 'take a backup of an instance',
    keys: [
      'help', 'backupPath', 'instance', 'backupMode', 'pgdata', 'smoothCheckpoint', 'stream', 'slot', 'tempSlot', 'permSlot',
      'backupPgLog', 'backupPgReplslot', 'threads', 'progress', 'noValidate', 'skipBlockValidation', 'externalDirs', 'noSync',
      'note', 'archiveTimeout', 'rwTimeout', 'noColor', ...LOGGING, ...RETENTION_SETTINGS, ...RETENTION_ACTIONS, ...COMPRESSION,
      ...CONNECTION, ...REMOTE, ...PINNING,
    ],
    required: ['backupPath', 'instance', 'backupMode'],
    rules: (o, issue) => {
      pinningRules(o, issue);
      atMostOne(o, ['tempSlot', 'permSlot'], issue, 'a replication slot is either temporary or permanent');
      if (o.compress && o.compressAlgorithm !== undefined && o.compressAlgorithm !== 'zlib') {
        issue(`option --compress means --compress-algorithm=zlib and contradicts --compress-algorithm=${o.compressAlgorithm}`);
      }
    },
  }),
  restore: command({
    name: 'restore',
    summary: 'restore an instance from a backup',
    keys: [
      'help', 'backupPath', 'instance', 'pgdata', 'backupId', 'threads', 'progress', 'force', 'noSync', 'noValidate',
      'skipBlockValidation', 'externalMapping', 'tablespaceMapping', 'skipExternalDirs', 'incrementalMode',
      'dbInclude', 'dbExclude', 'destroyAllOtherDbs', 'restoreAsReplica', 'primaryConninfo', 'primarySlotName', 'waldir',
      'restoreCommand', 'archiveHost', 'archivePort', 'archiveUser', 'noColor', ...RECOVERY, ...REMOTE, ...LOGGING,
    ],
    required: ['backupPath', 'instance'],
    rules: (o, issue) => {
      recoveryRules(o, issue);
      atMostOne(o, ['dbInclude', 'dbExclude'], issue, 'choose databases either by inclusion or by exclusion');
    },
  }),
  merge: command({
    name: 'merge',
    summary: 'merge an incremental backup into its parent full backup',
    keys: ['help', 'backupPath', 'instance', 'backupId', 'threads', 'progress', 'noValidate', 'noSync', ...LOGGING],
    required: ['backupPath', 'instance', 'backupId'],
  }),
  delete: command({
    name: 'delete',
    summary: 'delete backups by ID, by status or by the retention policy',
    keys: [
      'help', 'backupPath', 'instance', 'backupId', 'status', ...RETENTION_ACTIONS, ...RETENTION_SETTINGS, 'threads', 'progress',
      'dryRun', 'noValidate', 'noSync', ...LOGGING,
    ],
    required: ['backupPath', 'instance'],
    usage: '[-i backup-id | --delete-expired | --merge-expired | --status=backup-status] [--delete-wal]',
    rules: (o, issue) => {
      if (o.backupId === undefined && o.status === undefined && !o.deleteExpired && !o.mergeExpired && !o.deleteWal) {
        issue('nothing to delete: give -i/--backup-id, --status, --delete-expired, --merge-expired or --delete-wal');
      }
      atMostOne(o, ['backupId', 'status', 'deleteExpired'], issue, 'choose what to delete one way');
      atMostOne(o, ['backupId', 'status', 'mergeExpired'], issue, 'choose what to delete one way');
    },
  }),
  validate: command({
    name: 'validate',
    summary: 'check that backups are complete and not corrupted',
    keys: [
      'help', 'backupPath', 'instance', 'backupId', 'threads', 'progress', 'skipBlockValidation',
      'recoveryTargetTime', 'recoveryTargetXid', 'recoveryTargetLsn', 'recoveryTargetName', 'recoveryTargetInclusive',
      'recoveryTargetTimeline', 'recoveryTarget', 'immediate', ...LOGGING,
    ],
    required: ['backupPath'],
    usage: '[--instance=instance-name] [-i backup-id] [recovery_target_options]',
    rules: (o, issue) => {
      recoveryRules(o, issue);
      if (o.backupId !== undefined && o.instance === undefined) issue('option -i/--backup-id needs --instance');
      const wal = (['recoveryTargetTime', 'recoveryTargetXid', 'recoveryTargetLsn', 'recoveryTargetName'] as const).find((k) => o[k] !== undefined);
      if (wal && o.instance === undefined) issue(`option --${OPTIONS[wal].long} needs --instance: a recovery target is a point in one instance's WAL`);
    },
  }),
  'archive-push': command({
    name: 'archive-push',
    summary: 'copy a WAL file into the archive (archive_command)',
    keys: [
      'help', 'backupPath', 'instance', 'walFileName', 'walFilePath', 'pgdata', 'threads', 'batchSize', 'archiveTimeout',
      'noReadyRename', 'noSync', 'overwrite', ...COMPRESSION, ...REMOTE, ...LOGGING,
    ],
    required: ['backupPath', 'instance', 'walFileName'],
    rules: (o, issue) => {
      if (o.compressAlgorithm === 'pglz') issue('option --compress-algorithm: invalid value "pglz" for archive-push: WAL can be compressed with zlib or none');
    },
  }),
  'archive-get': command({
    name: 'archive-get',
    summary: 'copy a WAL file from the archive (restore_command)',
    keys: ['help', 'backupPath', 'instance', 'walFilePath', 'walFileName', 'threads', 'batchSize', 'prefetchDir', 'noValidateWal', ...REMOTE, ...LOGGING],
    required: ['backupPath', 'instance', 'walFilePath', 'walFileName'],
  }),
  checkdb: command({
    name: 'checkdb',
    summary: 'check a running cluster for corruption',
    keys: [
      'help', 'backupPath', 'instance', 'pgdata', 'progress', 'threads', 'amcheck', 'skipBlockValidation', 'heapallindexed',
      'checkunique', 'parent', ...CONNECTION, ...LOGGING,
    ],
    required: [],
    usage: '[-B backup-path] [--instance=instance-name] [-D pgdata-path]',
    rules: (o, issue) => {
      for (const k of ['heapallindexed', 'checkunique', 'parent'] as const) {
        if (o[k] && !o.amcheck) issue(`option --${OPTIONS[k].long} needs --amcheck`);
      }
      if (o.skipBlockValidation && !o.amcheck) issue('option --skip-block-validation needs --amcheck: without it checkdb would check nothing');
    },
  }),
  catchup: command({
    name: 'catchup',
    summary: 'bring a local copy of a cluster up to date with the source',
    keys: [
      'help', 'catchupMode', 'sourcePgdata', 'destinationPgdata', 'stream', 'slot', 'tempSlot', 'permSlot', 'threads', 'progress',
      'noSync', 'tablespaceMapping', 'excludePath', 'dryRun', ...CONNECTION, ...REMOTE, ...LOGGING,
    ],
    required: ['catchupMode', 'sourcePgdata', 'destinationPgdata'],
    rules: (o, issue) => {
      atMostOne(o, ['tempSlot', 'permSlot'], issue, 'a replication slot is either temporary or permanent');
      if (o.sourcePgdata === o.destinationPgdata) issue('options --source-pgdata and --destination-pgdata must name different directories');
    },
  }),
  worker: command({
    name: 'worker',
    summary: 'run a Temporal worker that executes backup, restore, merge and validate workflows',
    keys: ['help', 'backupPath', 'taskQueue', 'threads', ...LOGGING],
    required: ['backupPath'],
  }),
  version: command({ name: 'version', summary: 'print the version', keys: [], required: [] }),
  help: command({ name: 'help', summary: 'show help for a command', keys: [], required: [], positional: '[command]' }),
} as const;

export type CommandName = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

type OptionsOf<C> = C extends CommandSpec<infer K, infer R> ? ParsedOptions<K, R> : never;
export type InitOptions = OptionsOf<typeof COMMANDS.init>;
export type AddInstanceOptions = OptionsOf<(typeof COMMANDS)['add-instance']>;
export type DelInstanceOptions = OptionsOf<(typeof COMMANDS)['del-instance']>;
export type SetConfigOptions = OptionsOf<(typeof COMMANDS)['set-config']>;
export type SetBackupOptions = OptionsOf<(typeof COMMANDS)['set-backup']>;
export type ShowConfigOptions = OptionsOf<(typeof COMMANDS)['show-config']>;
export type ShowOptions = OptionsOf<typeof COMMANDS.show>;
export type BackupOptions = OptionsOf<typeof COMMANDS.backup>;
export type RestoreOptions = OptionsOf<typeof COMMANDS.restore>;
export type MergeOptions = OptionsOf<typeof COMMANDS.merge>;
export type DeleteOptions = OptionsOf<typeof COMMANDS.delete>;
export type ValidateOptions = OptionsOf<typeof COMMANDS.validate>;
export type ArchivePushOptions = OptionsOf<(typeof COMMANDS)['archive-push']>;
export type ArchiveGetOptions = OptionsOf<(typeof COMMANDS)['archive-get']>;
export type CheckdbOptions = OptionsOf<typeof COMMANDS.checkdb>;
export type CatchupOptions = OptionsOf<typeof COMMANDS.catchup>;
export type WorkerOptions = OptionsOf<typeof COMMANDS.worker>;
export type OptionsFor<N extends CommandName> = OptionsOf<(typeof COMMANDS)[N]>;
