/**
 * getopt_long-compatible reading of a subcommand's arguments against its schema: `--opt=value`,
 * `--opt value`, `-j4`, `-j 4`, bundled flags (`-Cw`), repeatable options, legacy aliases. Values
 * stay text here; ./validate.ts turns them into typed options with the command's zod schema.
 */
import { CliError } from '../errors';
import { OPTIONS, optionLabel, type OptionDef, type OptionKey } from './optionDefs';
import type { CommandSpec } from './commands';

export type RawValue = true | string | string[];

export interface RawCommandLine {
  /** Option key → text as given (lists for repeatable options, true for flags). */
  values: Partial<Record<OptionKey, RawValue>>;
  /** Where a value came from, for error messages: the option as typed, or an environment variable. */
  origin: Partial<Record<OptionKey, string>>;
  positionals: string[];
  help: boolean;
}

interface Lookup {
  long: Map<string, OptionKey>;
  short: Map<string, OptionKey>;
}

function lookupFor(spec: CommandSpec): Lookup {
  const long = new Map<string, OptionKey>();
  const short = new Map<string, OptionKey>();
  for (const key of spec.keys) {
    const def: OptionDef = OPTIONS[key];
    long.set(def.long, key);
    for (const a of def.aliases ?? []) long.set(a, key);
    if (def.short) short.set(def.short, key);
  }
  long.set('help', 'help');
  return { long, short };
}

function unknownOption(spec: CommandSpec, typed: string): CliError {
  return new CliError(`unrecognized option "${typed}" for command "${spec.name}": see "gs_probackup help ${spec.name}" for the options it accepts`);
}

/** getopt_long accepts an unambiguous prefix of a long option (`--inst=node`). */
function uniquePrefix(long: Map<string, OptionKey>, name: string, spec: CommandSpec): OptionKey {
  const hits = [...long.entries()].filter(([n]) => n.startsWith(name));
  const keys = new Set(hits.map(([, k]) => k));
  if (name === '' || keys.size === 0) throw unknownOption(spec, `--${name}`);
  if (keys.size > 1) {
    throw new CliError(`option --${name} is ambiguous for command "${spec.name}": it could be ${hits.map(([n]) => `--${n}`).sort().join(', ')}`);
  }
  return hits[0][1];
}

export function parseCommandArgs(spec: CommandSpec, args: readonly string[]): RawCommandLine {
  const { long, short } = lookupFor(spec);
  const out: RawCommandLine = { values: {}, origin: {}, positionals: [], help: false };

  const put = (key: OptionKey, typed: string, value: string | true) => {
    const def: OptionDef = OPTIONS[key];
    if (key === 'help') {
      out.help = true;
      return;
    }
    if (def.kind === 'list') {
      const prev = out.values[key];
      out.values[key] = [...(Array.isArray(prev) ? prev : []), value as string];
      out.origin[key] = typed;
      return;
    }
    if (out.values[key] !== undefined) {
      throw new CliError(`option ${optionLabel(def)} is given more than once: give it once`);
    }
    out.values[key] = value;
    out.origin[key] = typed;
  };

  let onlyPositionals = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (onlyPositionals || arg === '-' || !arg.startsWith('-')) {
      out.positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const key = long.get(name) ?? uniquePrefix(long, name, spec);
      const def: OptionDef = OPTIONS[key];
      if (def.kind === 'flag') {
        if (eq >= 0) throw new CliError(`option --${name} does not take a value (got "${arg.slice(eq + 1)}")`);
        put(key, `--${name}`, true);
      } else if (eq >= 0) {
        put(key, `--${name}`, arg.slice(eq + 1));
      } else {
        if (i + 1 >= args.length) throw new CliError(`option ${optionLabel(def)} requires a value: ${optionLabel(def)}=${def.arg}`);
        put(key, `--${name}`, args[++i]);
      }
      continue;
    }
    // Short options: a cluster of flags, the last of which may take the rest (or the next word).
    for (let j = 1; j < arg.length; j++) {
      const ch = arg[j];
      if (ch === '?') {
        throw new CliError(`option -? is accepted only before a command: use "gs_probackup ${spec.name} --help"`);
      }
      const key = short.get(ch);
      if (key === undefined) throw unknownOption(spec, `-${ch}`);
      const def: OptionDef = OPTIONS[key];
      if (def.kind === 'flag') {
        put(key, `-${ch}`, true);
        continue;
      }
      const rest = arg.slice(j + 1);
      if (rest !== '') {
        put(key, `-${ch}`, rest);
      } else {
        if (i + 1 >= args.length) throw new CliError(`option ${optionLabel(def)} requires a value: -${ch} ${def.arg}`);
        put(key, `-${ch}`, args[++i]);
      }
      break;
    }
  }
  if (out.positionals.length > 0 && !spec.positional) {
    throw new CliError(`unexpected argument "${out.positionals[0]}" for command "${spec.name}": options are written --name=value or -x value`);
  }
  return out;
}
