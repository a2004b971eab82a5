/** --help text, generated from the command schemas so it always lists what the parser accepts. */
import { COMMANDS, COMMAND_NAMES, type CommandName, type CommandSpec } from './commands';
import { HELP_GROUPS, OPTIONS, type HelpGroup, type OptionDef, type OptionKey } from './optionDefs';
import { PROGRAM } from '../version';

function optionUsage(def: OptionDef): string {
  const arg = def.kind === 'flag' ? '' : def.arg;
  if (def.short) return def.kind === 'flag' ? `-${def.short}` : `-${def.short} ${arg}`;
  return def.kind === 'flag' ? `--${def.long}` : `--${def.long}=${arg}`;
}

/** `gs_probackup backup -B backup-path --instance=instance-name -b backup-mode [options]` */
export function synopsis(spec: CommandSpec): string {
  const parts = [PROGRAM, spec.name];
  for (const k of spec.required) parts.push(optionUsage(OPTIONS[k]));
  if (spec.usage) parts.push(spec.usage);
  if (spec.positional) parts.push(spec.positional);
  if (spec.keys.some((k) => k !== 'help' && !(spec.required as readonly string[]).includes(k))) parts.push('[options]');
  return parts.join(' ');
}

function optionLine(key: OptionKey): string {
  const def: OptionDef = OPTIONS[key];
  const names = [def.short ? `-${def.short}, ` : '    ', `--${def.long}`, def.kind === 'flag' ? '' : `=${def.arg}`].join('');
  const aliases = def.aliases?.length ? ` (also --${def.aliases.join(', --')})` : '';
  const env = def.env ? ` (env ${def.env})` : '';
  const repeat = def.kind === 'list' && !def.help.includes('repeatable') ? ' (repeatable)' : '';
  const left = `  ${names}`;
  const help = `${def.help}${repeat}${aliases}${env}`;
  return left.length < 40 ? `${left.padEnd(40)}${help}` : `${left}\n${' '.repeat(40)}${help}`;
}

export function commandHelp(name: CommandName): string {
  const spec = COMMANDS[name] as CommandSpec;
  let out = `\n${PROGRAM} ${spec.name} - ${spec.summary}\n\nUsage:\n  ${synopsis(spec)}\n`;
  const byGroup = new Map<HelpGroup, OptionKey[]>();
  for (const k of spec.keys) {
    if (k === 'help') continue;
    const g = OPTIONS[k].group;
    byGroup.set(g, [...(byGroup.get(g) ?? []), k]);
  }
  for (const g of Object.keys(HELP_GROUPS) as HelpGroup[]) {
    const keys = byGroup.get(g);
    if (!keys) continue;
    out += `\n${HELP_GROUPS[g]}:\n${keys.map(optionLine).join('\n')}\n`;
  }
  if (spec.keys.length > 0) out += `\n  --help                                show this help, then exit\n`;
  return out;
}

export function mainHelp(): string {
  let out = `\n${PROGRAM} - manage backup and recovery of PostgreSQL clusters (long operations run as Temporal workflows)\n\n`;
  out += `Usage:\n  ${PROGRAM} -V|--version\n  ${PROGRAM} -?|--help\n`;
  for (const name of COMMAND_NAMES) {
    out += `  ${synopsis(COMMANDS[name] as CommandSpec)}\n`;
  }
  out += `\nCommands:\n`;
  for (const name of COMMAND_NAMES) {
    out += `  ${name.padEnd(14)}${(COMMANDS[name] as CommandSpec).summary}\n`;
  }
  out += `\nRun "${PROGRAM} help COMMAND" for the options of a command.\n`;
  out += `Environment: BACKUP_PATH, PGDATA, PGHOST, PGPORT, PGUSER, PGDATABASE; TEMPORAL_ADDRESS selects an external Temporal server.\n`;
  out += `TLS to PostgreSQL as libpq: PGSSLMODE (default prefer), PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGSSLCRL and ~/.postgresql.\n`;
  return out;
}
