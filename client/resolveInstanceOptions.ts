/**
 * The effective settings of an instance for one command: command line > pg_probackup.conf >
 * environment (PGDATA, PGHOST, PGPORT, PGUSER, PGDATABASE) > defaults (spec §6). backup, restore
 * and the other workflow commands take everything they need from here.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { CONFIG_OPTIONS, withDefaults, type ConfigValue, type InstanceConfigValues, type LogLevelName } from '../core/instanceConfig';
import { catalogPaths } from '../core/catalogPaths';
import { DEFAULT_XLOG_SEG_SIZE, type CompressAlg } from '../core/types';
import * as V from '../core/options/valueSchemas';
import { CliError } from './errors';
import type { LoggerConfig } from './logger';
import { OPTIONS, type OptionKey } from './options/optionDefs';
import type { Env } from './options/validate';

export type Source = 'command line' | 'configuration file' | 'environment' | 'default';

export interface ResolvedInstanceOptions {
  backupPath: string;
  instance: string;
  pgdata?: string;
  systemIdentifier?: string;
  xlogSegSize: number;
  externalDirs: string[];
  connection: { pghost?: string; pgport?: number; pguser?: string; pgdatabase: string };
  compressAlg: CompressAlg;
  compressLevel: number;
  retention: { redundancy: number; windowDays: number; walDepth: number };
  archiveTimeoutSec: number;
  /** -t/--rw-timeout is command-line only (gs_probackup default 120 s). */
  rwTimeoutSec: number;
  restoreCommand?: string;
  archive: { host?: string; port?: number; user?: string };
  remote: { proto: 'ssh' | 'none'; host?: string; port?: number; path?: string; user?: string; sshOptions?: string; sshConfig?: string };
  logging: LoggerConfig;
  /** Where each pg_probackup.conf key's value came from. */
  sources: Record<string, Source>;
}

const ENV_FOR_KEY: Record<string, string> = { pgdata: 'PGDATA', pghost: 'PGHOST', pgport: 'PGPORT', pguser: 'PGUSER', pgdatabase: 'PGDATABASE' };
export const DEFAULT_RW_TIMEOUT_SEC = 120;

/** pg_probackup.conf keys are the long option names. */
const CLI_KEY_FOR_CONF = new Map<string, OptionKey>((Object.keys(OPTIONS) as OptionKey[]).map((k) => [OPTIONS[k].long, k]));

/** The pg_probackup.conf values a command line sets (set-config, add-instance, and overrides). */
export function configValuesFromOptions(opts: Partial<Record<OptionKey, unknown>>): InstanceConfigValues {
  const out: InstanceConfigValues = {};
  for (const def of CONFIG_OPTIONS) {
    const key = CLI_KEY_FOR_CONF.get(def.key);
    if (!key) continue;
    const v = opts[key];
    if (v === undefined) continue;
    out[def.key] = Array.isArray(v) ? (v.length ? v.join(':') : 'none') : (v as ConfigValue);
  }
  return out;
}

function fromEnv(env: Env): InstanceConfigValues {
  const out: InstanceConfigValues = {};
  for (const [key, name] of Object.entries(ENV_FOR_KEY)) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const def = CONFIG_OPTIONS.find((d) => d.key === key)!;
    const r = V.checkText(def.schema, text);
    if (!r.ok) throw new CliError(`environment variable ${name}: invalid value "${text}": ${r.message}`);
    out[key] = r.value;
  }
  return out;
}

export function resolveInstanceOptions(input: {
  backupPath: string;
  instance: string;
  /** The command's typed options (any command). */
  options: Partial<Record<OptionKey, unknown>>;
  file: InstanceConfigValues;
  env: Env;
}): ResolvedInstanceOptions {
  const cmd = configValuesFromOptions(input.options);
  const env = fromEnv(input.env);
  const sources: Record<string, Source> = {};
  const merged: InstanceConfigValues = {};
  for (const def of CONFIG_OPTIONS) {
    const k = def.key;
    for (const [src, vals] of [['command line', cmd], ['configuration file', input.file], ['environment', env]] as const) {
      if (vals[k] !== undefined) {
        merged[k] = vals[k];
        sources[k] = src;
        break;
      }
    }
    if (merged[k] === undefined && def.default !== undefined) sources[k] = 'default';
  }
  // --compress is zlib unless an algorithm is given.
  if (input.options.compress === true && cmd['compress-algorithm'] === undefined) {
    merged['compress-algorithm'] = 'zlib';
    sources['compress-algorithm'] = 'command line';
  }
  const v = withDefaults(merged);
  const str = (k: string) => (v[k] === undefined ? undefined : String(v[k]));
  const num = (k: string) => (v[k] === undefined ? undefined : Number(v[k]));
  const ext = str('external-dirs');

  const pguser = str('pguser');
  // pg_probackup: pgdatabase falls back to PGUSER, then to the OS user name.
  const pgdatabase = str('pgdatabase') ?? pguser ?? os.userInfo().username;

  const logging: LoggerConfig = {
    levelConsole: v['log-level-console'] as LogLevelName,
    levelFile: v['log-level-file'] as LogLevelName,
    formatConsole: (input.options.logFormatConsole as 'PLAIN' | 'JSON' | undefined) ?? 'PLAIN',
    formatFile: v['log-format-file'] as 'PLAIN' | 'JSON',
    directory: str('log-directory') ?? catalogPaths.logDir(input.backupPath),
    filename: str('log-filename')!,
    errorFilename: str('error-log-filename'),
    rotationSizeKb: num('log-rotation-size')!,
    rotationAgeMs: num('log-rotation-age')!,
  };

  return {
    backupPath: input.backupPath,
    instance: input.instance,
    pgdata: str('pgdata') ? path.resolve(str('pgdata')!) : undefined,
    systemIdentifier: str('system-identifier'),
    xlogSegSize: num('xlog-seg-size') ?? DEFAULT_XLOG_SEG_SIZE,
    externalDirs: ext === undefined || ext === 'none' ? [] : ext.split(':'),
    connection: { pghost: str('pghost'), pgport: num('pgport'), pguser, pgdatabase },
    compressAlg: v['compress-algorithm'] as CompressAlg,
    compressLevel: num('compress-level')!,
    retention: { redundancy: num('retention-redundancy')!, windowDays: num('retention-window')!, walDepth: num('wal-depth')! },
    archiveTimeoutSec: num('archive-timeout')!,
    rwTimeoutSec: (input.options.rwTimeout as number | undefined) ?? DEFAULT_RW_TIMEOUT_SEC,
    restoreCommand: str('restore-command'),
    archive: { host: str('archive-host'), port: num('archive-port'), user: str('archive-user') },
    remote: {
      proto: (v['remote-proto'] as 'ssh' | 'none') ?? 'ssh',
      host: str('remote-host'),
      port: num('remote-port'),
      path: str('remote-path'),
      user: str('remote-user'),
      sshOptions: str('ssh-options'),
      sshConfig: str('ssh-config'),
    },
    logging,
    sources,
  };
}

/** Logging settings of a command that has no instance (init, show of all instances). */
export function loggingFromOptions(backupPath: string | undefined, options: Partial<Record<OptionKey, unknown>>): Partial<LoggerConfig> {
  const o = options as Record<string, unknown>;
  const out: Partial<LoggerConfig> = {};
  if (o.logLevelConsole !== undefined) out.levelConsole = o.logLevelConsole as LogLevelName;
  if (o.logLevelFile !== undefined) out.levelFile = o.logLevelFile as LogLevelName;
  if (o.logFormatConsole !== undefined) out.formatConsole = o.logFormatConsole as 'PLAIN' | 'JSON';
  if (o.logFormatFile !== undefined) out.formatFile = o.logFormatFile as 'PLAIN' | 'JSON';
  if (o.logFilename !== undefined) out.filename = o.logFilename as string;
  if (o.errorLogFilename !== undefined) out.errorFilename = o.errorLogFilename as string;
  if (o.logRotationSize !== undefined) out.rotationSizeKb = o.logRotationSize as number;
  if (o.logRotationAge !== undefined) out.rotationAgeMs = o.logRotationAge as number;
  const dir = (o.logDirectory as string | undefined) ?? (backupPath ? catalogPaths.logDir(backupPath) : undefined);
  if (dir) out.directory = dir;
  return out;
}
