/**
 * pg_probackup.conf (spec §6): the option model of an instance, its text form and show-config's
 * plain and JSON renderings. Pure: callers read and write the file.
 */
import { COMPRESS_ALGS } from './types';
import { formatUnitValue, type UnitBase } from './options/units';
import * as V from './options/valueSchemas';

export const LOG_LEVELS = ['OFF', 'VERBOSE', 'LOG', 'INFO', 'NOTICE', 'WARNING', 'ERROR'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['PLAIN', 'JSON'] as const;

export const CONFIG_GROUPS = {
  instance: 'Backup instance information',
  connection: 'Connection parameters',
  replica: 'Replica parameters',
  archive: 'Archive parameters',
  logging: 'Logging parameters',
  retention: 'Retention parameters',
  compression: 'Compression parameters',
  remote: 'Remote access parameters',
} as const;

export type ConfigValue = string | number;

export interface ConfigOptionDef {
  key: string;
  group: keyof typeof CONFIG_GROUPS;
  /** Reads the text of the file (and of the command line) into the stored value. */
  schema: V.TextSchema<ConfigValue>;
  /** Base unit of a time/size option; shown scaled unless --no-scale-units. */
  unit?: UnitBase;
  /** Numeric options print unquoted in show-config --format=json --no-scale-units. */
  numeric?: boolean;
  default?: ConfigValue;
  /** Set from pg_control at add-instance; set-config refuses it. */
  fileOnly?: boolean;
  /** Allowed on the command line only; in the file it is an error (log-format-console). */
  commandLineOnly?: boolean;
}

const str = () => V.nonEmptyText() as V.TextSchema<ConfigValue>;
const externalDirsText: V.TextSchema<ConfigValue> = V.externalDirs().transform((dirs) => (dirs.length ? dirs.join(':') : 'none'));

/** The fixed order of pg_probackup's instance_options[]: file, show-config and set-config follow it. */
export const CONFIG_OPTIONS: readonly ConfigOptionDef[] = [
  { key: 'pgdata', group: 'instance', schema: V.absolutePath() },
  { key: 'system-identifier', group: 'instance', schema: V.uint64Text(), numeric: true, fileOnly: true },
  { key: 'xlog-seg-size', group: 'instance', schema: V.uint32(), numeric: true, fileOnly: true },
  { key: 'external-dirs', group: 'instance', schema: externalDirsText },
  { key: 'pgdatabase', group: 'connection', schema: str() },
  { key: 'pghost', group: 'connection', schema: str() },
  { key: 'pgport', group: 'connection', schema: V.port() },
  { key: 'pguser', group: 'connection', schema: str() },
  { key: 'master-db', group: 'replica', schema: str() },
  { key: 'master-host', group: 'replica', schema: str() },
  { key: 'master-port', group: 'replica', schema: V.port() },
  { key: 'master-user', group: 'replica', schema: str() },
  { key: 'replica-timeout', group: 'replica', schema: V.unitValue('s'), unit: 's', numeric: true, default: 300 },
  { key: 'archive-timeout', group: 'archive', schema: V.unitValue('s', 1), unit: 's', numeric: true, default: 300 },
  { key: 'archive-host', group: 'archive', schema: str() },
  { key: 'archive-port', group: 'archive', schema: V.port() },
  { key: 'archive-user', group: 'archive', schema: str() },
  { key: 'restore-command', group: 'archive', schema: str() },
  { key: 'log-level-console', group: 'logging', schema: V.choice(LOG_LEVELS), default: 'INFO' },
  { key: 'log-level-file', group: 'logging', schema: V.choice(LOG_LEVELS), default: 'OFF' },
  { key: 'log-format-console', group: 'logging', schema: V.choice(LOG_FORMATS), default: 'PLAIN', commandLineOnly: true },
  { key: 'log-format-file', group: 'logging', schema: V.choice(LOG_FORMATS), default: 'PLAIN' },
  { key: 'log-filename', group: 'logging', schema: str(), default: 'pg_probackup.log' },
  { key: 'error-log-filename', group: 'logging', schema: str() },
  { key: 'log-directory', group: 'logging', schema: V.absolutePath() },
  { key: 'log-rotation-size', group: 'logging', schema: V.unitValue('kB'), unit: 'kB', numeric: true, default: 0 },
  { key: 'log-rotation-age', group: 'logging', schema: V.unitValue('ms'), unit: 'ms', numeric: true, default: 0 },
  { key: 'retention-redundancy', group: 'retention', schema: V.uint32(), numeric: true, default: 0 },
  { key: 'retention-window', group: 'retention', schema: V.uint32(), numeric: true, default: 0 },
  { key: 'wal-depth', group: 'retention', schema: V.uint32(), numeric: true, default: 0 },
  { key: 'compress-algorithm', group: 'compression', schema: V.choice(COMPRESS_ALGS), default: 'none' },
  { key: 'compress-level', group: 'compression', schema: V.intRange(0, 9), numeric: true, default: 1 },
  { key: 'remote-proto', group: 'remote', schema: V.choice(['ssh', 'none'] as const), default: 'ssh' },
  { key: 'remote-host', group: 'remote', schema: str() },
  { key: 'remote-port', group: 'remote', schema: V.port() },
  { key: 'remote-path', group: 'remote', schema: V.absolutePath() },
  { key: 'remote-user', group: 'remote', schema: str() },
  { key: 'ssh-options', group: 'remote', schema: str() },
  { key: 'ssh-config', group: 'remote', schema: V.absolutePath() },
];

export type ConfigKey = string;
/** Values as stored: numbers in base units, everything else text. Absent key = not set. */
export type InstanceConfigValues = Record<ConfigKey, ConfigValue>;

const BY_KEY = new Map(CONFIG_OPTIONS.map((o) => [normalizeKey(o.key), o]));

/** pg_probackup compares keys case-insensitively with '-', '_' and ' ' equal. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[_ ]/g, '-');
}

export function configOption(key: string): ConfigOptionDef | undefined {
  return BY_KEY.get(normalizeKey(key));
}

export class ConfigFileError extends Error {}

/**
 * Splits `key = value` lines (spec §3 syntax, shared with backup.control): `#` comments, values
 * bare or single-quoted with `''` for a quote.
 */
export function parseKeyValueLines(text: string, source: string): Array<{ key: string; value: string; line: number }> {
  const out: Array<{ key: string; value: string; line: number }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^([^=#\s]+)\s*=\s*(.*)$/.exec(t);
    if (!m) throw new ConfigFileError(`syntax error in file "${source}" line ${i + 1}: expected "key = value", found "${t}"`);
    let rest = m[2];
    let value: string;
    if (rest.startsWith("'")) {
      value = '';
      let j = 1;
      let closed = false;
      for (; j < rest.length; j++) {
        if (rest[j] === "'") {
          if (rest[j + 1] === "'") {
            value += "'";
            j++;
            continue;
          }
          closed = true;
          break;
        }
        value += rest[j];
      }
      if (!closed) throw new ConfigFileError(`syntax error in file "${source}" line ${i + 1}: unterminated quoted value for "${m[1]}"`);
      rest = rest.slice(j + 1).trim();
      if (rest !== '' && !rest.startsWith('#')) {
        throw new ConfigFileError(`syntax error in file "${source}" line ${i + 1}: unexpected text after the value of "${m[1]}"`);
      }
    } else {
      // pg_probackup's get_next_token: a bare value runs to '#' or a tab, spaces included.
      value = rest.split(/[#\t\v]/)[0].trimEnd();
    }
    out.push({ key: m[1], value, line: i + 1 });
  }
  return out;
}

/** Reads pg_probackup.conf; unknown keys and invalid values are errors naming the file and key. */
export function parseInstanceConfig(text: string, source: string): InstanceConfigValues {
  const values: InstanceConfigValues = {};
  for (const { key, value, line } of parseKeyValueLines(text, source)) {
    const def = configOption(key);
    if (!def) throw new ConfigFileError(`invalid option "${key}" in file "${source}" line ${line}: not a pg_probackup.conf option`);
    if (def.commandLineOnly) {
      throw new ConfigFileError(`option "${def.key}" in file "${source}" line ${line} is allowed only on the command line: remove it from the file`);
    }
    const r = V.checkText(def.schema, value);
    if (!r.ok) throw new ConfigFileError(`option "${def.key}" in file "${source}" line ${line}: invalid value "${value}": ${r.message}`);
    values[def.key] = r.value;
  }
  return values;
}

function scaled(def: ConfigOptionDef, v: ConfigValue, baseUnits: boolean): string {
  if (def.unit && typeof v === 'number' && !baseUnits) return formatUnitValue(v, def.unit);
  return String(v);
}

/** The file text: only values that are set, in the fixed order, a `# group` comment on group change. */
export function serializeInstanceConfig(values: InstanceConfigValues): string {
  let out = '';
  let group: string | null = null;
  for (const def of CONFIG_OPTIONS) {
    const v = values[def.key];
    if (v === undefined || def.commandLineOnly) continue;
    if (def.group !== group) {
      group = def.group;
      out += `# ${CONFIG_GROUPS[def.group]}\n`;
    }
    const text = scaled(def, v, false);
    // Quote when a reader would otherwise cut the value short; pg_probackup quotes on spaces only.
    const needsQuotes = /[\s#']/.test(text) || text === '';
    out += needsQuotes ? `${def.key} = '${text.replace(/'/g, "''")}'\n` : `${def.key} = ${text}\n`;
  }
  return out;
}

/** Stored values over defaults: what show-config prints and what commands use. */
export function withDefaults(values: InstanceConfigValues): InstanceConfigValues {
  const out: InstanceConfigValues = {};
  for (const def of CONFIG_OPTIONS) {
    const v = values[def.key] ?? def.default;
    if (v !== undefined) out[def.key] = v;
  }
  return out;
}

export function showConfigPlain(values: InstanceConfigValues, opts: { baseUnits?: boolean } = {}): string {
  const all = withDefaults(values);
  let out = '';
  let group: string | null = null;
  for (const def of CONFIG_OPTIONS) {
    const v = all[def.key];
    if (v === undefined) continue;
    if (def.group !== group) {
      group = def.group;
      out += `# ${CONFIG_GROUPS[def.group]}\n`;
    }
    out += `${def.key} = ${scaled(def, v, opts.baseUnits ?? false)}\n`;
  }
  return out;
}

/** pg_probackup's json.c framing: `{`, one `"key": value` per line indented 4, `}`. */
export function showConfigJson(values: InstanceConfigValues, opts: { baseUnits?: boolean } = {}): string {
  const all = withDefaults(values);
  const lines: string[] = [];
  for (const def of CONFIG_OPTIONS) {
    const v = all[def.key];
    if (v === undefined) continue;
    const text = scaled(def, v, opts.baseUnits ?? false);
    const rendered = opts.baseUnits && def.numeric ? text : JSON.stringify(text);
    lines.push(`    ${JSON.stringify(def.key)}: ${rendered}`);
  }
  return `{\n${lines.join(',\n')}\n}\n`;
}
