/**
 * Turns the text of a command line into the command's typed options with its zod schema, and a
 * zod issue into the one-line error a DBA reads: the option, the value, and what is allowed.
 */
import type { z } from 'zod';
import { CliError } from '../errors';
import { OPTIONS, optionLabel, type OptionDef, type OptionKey } from './optionDefs';
import type { CommandSpec, ParsedOptions } from './commands';
import type { RawCommandLine } from './parseArgv';

export type Env = Record<string, string | undefined>;

function requiredMessage(key: OptionKey): string {
  const def: OptionDef = OPTIONS[key];
  if (key === 'backupPath') return 'required parameter not specified: BACKUP_PATH (-B, --backup-path)';
  return `required parameter not specified: ${optionLabel(def)}${def.kind === 'flag' ? '' : `=${def.arg}`}`;
}

function issueMessage(issue: z.ZodIssue, raw: RawCommandLine): string {
  const key = issue.path[0] as OptionKey | undefined;
  if (key === undefined || !(key in OPTIONS)) return issue.message;
  const def: OptionDef = OPTIONS[key];
  const given = raw.values[key];
  if (given === undefined) return requiredMessage(key);
  const text = Array.isArray(given) ? given[Number(issue.path[1] ?? 0)] : given;
  const origin = raw.origin[key] ?? '';
  const who = origin.startsWith('$') ? `environment variable ${origin.slice(1)}` : `option ${optionLabel(def)}`;
  return `${who}: invalid value "${String(text)}": ${issue.message}`;
}

/** Value errors first (the user's typo), then missing options, then rules across options. */
function rank(issue: z.ZodIssue, raw: RawCommandLine): number {
  const key = issue.path[0] as OptionKey | undefined;
  if (key === undefined) return 2;
  return raw.values[key] === undefined ? 1 : 0;
}

export function validateCommand<K extends OptionKey, R extends K>(spec: CommandSpec<K, R>, raw: RawCommandLine, env: Env): ParsedOptions<K, R> {
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw.values)) input[k] = v;
  // BACKUP_PATH stands in for -B before validation, so a relative $BACKUP_PATH is refused too.
  if ((spec.keys as readonly string[]).includes('backupPath') && input.backupPath === undefined && env.BACKUP_PATH) {
    input.backupPath = env.BACKUP_PATH;
    raw.values.backupPath = env.BACKUP_PATH;
    raw.origin.backupPath = '$BACKUP_PATH';
  }
  const r = spec.schema.safeParse(input);
  if (r.success) return r.data;
  const issues = [...r.error.issues].sort((a, b) => rank(a, raw) - rank(b, raw));
  throw new CliError(issueMessage(issues[0], raw));
}
