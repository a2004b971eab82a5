/**
 * The value rules shared by the command line and pg_probackup.conf: each schema takes the text a
 * user wrote and returns the typed value, or fails with a message that reads after
 * `invalid value "<text>": ` — so both the CLI and the config reader name the option, the value
 * and what is allowed in one line.
 */
import { z } from 'zod';
import { backupIdToTime, backupIdFromTime, type BackupId } from '../backupId';
import { isLsnText, parseLsn, type Lsn } from '../lsn';
import { parseTimestamp } from './timestamp';
import { parseUnitValue, unitValueRule, type UnitBase } from './units';

export type TextSchema<T> = z.ZodType<T, z.ZodTypeDef, string>;

function fail(ctx: z.RefinementCtx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message });
  return z.NEVER;
}

export function intRange(min: number, max: number): TextSchema<number> {
  return z.string().transform((s, ctx) => {
    const t = s.trim();
    const n = /^[+-]?\d+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      return fail(ctx, max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`);
    }
    return n;
  });
}

export const UINT32_MAX = 4294967295;
export const uint32 = (): TextSchema<number> => intRange(0, UINT32_MAX);

/** uint64 as decimal text: system identifiers do not fit a JS number. */
export function uint64Text(): TextSchema<string> {
  return z.string().transform((s, ctx) => {
    const t = s.trim();
    if (!/^\d+$/.test(t) || BigInt(t) > 0xffffffffffffffffn) return fail(ctx, 'must be an unsigned 64-bit integer');
    return BigInt(t).toString();
  });
}

/** Case-insensitive choice; the value is returned in the spelling of `values`. */
export function choice<const V extends string>(values: readonly V[]): TextSchema<V> {
  return z.string().transform((s, ctx) => {
    const hit = values.find((v) => v.toLowerCase() === s.trim().toLowerCase());
    return hit ?? fail(ctx, `must be one of ${values.join(', ')}`);
  });
}

export function unitValue(base: UnitBase, min = 0, max = Number.MAX_SAFE_INTEGER): TextSchema<number> {
  return z.string().transform((s, ctx) => {
    const v = parseUnitValue(s, base);
    if (v === null || v < min || v > max) return fail(ctx, unitValueRule(base, min));
    return v;
  });
}

export function absolutePath(): TextSchema<string> {
  return z.string().transform((s, ctx) => {
    if (s === '') return fail(ctx, 'must be an absolute path, not empty');
    if (!s.startsWith('/')) return fail(ctx, 'must be an absolute path');
    return s.length > 1 ? s.replace(/\/+$/, '') : s;
  });
}

export function nonEmptyText(): TextSchema<string> {
  return z.string().transform((s, ctx) => (s === '' ? fail(ctx, 'must not be empty') : s));
}

/** `-E`: absolute directories separated by ':'; `none` clears the list (set-config). */
export function externalDirs(): TextSchema<string[]> {
  return z.string().transform((s, ctx) => {
    if (s.toLowerCase() === 'none') return [];
    const dirs = s.split(':');
    const bad = dirs.find((d) => !d.startsWith('/'));
    if (bad !== undefined) {
      return fail(ctx, `every directory must be an absolute path ("${bad}" is not); separate several with ':'`);
    }
    return dirs.map((d) => (d.length > 1 ? d.replace(/\/+$/, '') : d));
  });
}

export function port(): TextSchema<number> {
  return z.string().transform((s, ctx) => {
    const n = /^\d+$/.test(s.trim()) ? Number(s) : NaN;
    return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : fail(ctx, 'must be a port number from 1 to 65535');
  });
}

/** PostgreSQL's boolean spellings, like parse_bool: true/false/yes/no/on/off/1/0 and unique prefixes. */
export function parseBoolText(s: string): boolean | null {
  const t = s.trim().toLowerCase();
  if (t === '') return null;
  if (t === '1') return true;
  if (t === '0') return false;
  for (const [word, v] of [['true', true], ['yes', true], ['false', false], ['no', false]] as const) {
    if (word.startsWith(t)) return v;
  }
  if (t === 'on') return true;
  if (t === 'off' || t === 'of') return false;
  return null;
}

export function boolText(): TextSchema<boolean> {
  return z.string().transform((s, ctx) => parseBoolText(s) ?? fail(ctx, 'must be a boolean: true or false (also on/off, yes/no, 1/0)'));
}

export function timestamp(): TextSchema<number> {
  return z.string().transform((s, ctx) => {
    const t = parseTimestamp(s);
    return t ? t.unixSeconds : fail(ctx, "must be an ISO-8601 timestamp such as '2020-01-01 00:00:00+03'");
  });
}

export function backupId(): TextSchema<BackupId> {
  return z.string().transform((s, ctx) => {
    const t = backupIdToTime(s);
    return t === null ? fail(ctx, 'must be a backup ID: 1 to 13 letters and digits (base36), e.g. SCUN4E') : backupIdFromTime(t);
  });
}

export function lsn(): TextSchema<Lsn> {
  return z.string().transform((s, ctx) =>
    isLsnText(s.trim()) ? parseLsn(s) : fail(ctx, 'must be an LSN: two hexadecimal numbers separated by "/", e.g. 0/4C000028'),
  );
}

/** An instance name becomes a directory name under backups/ and wal/. */
export function instanceName(): TextSchema<string> {
  return z.string().transform((s, ctx) => {
    if (s === '' || s === '.' || s === '..' || s.includes('/') || s.startsWith('.')) {
      return fail(ctx, "must be a non-empty name without '/' that does not start with '.'");
    }
    return s;
  });
}

/**
 * `OLDDIR=NEWDIR` (-T, --external-mapping): both absolute; `\=` is a literal '=' inside a path.
 */
export interface DirMapping {
  oldDir: string;
  newDir: string;
}

export function dirMapping(): TextSchema<DirMapping> {
  return z.string().transform((s, ctx) => {
    let oldDir = '';
    let newDir: string | null = null;
    let cur = '';
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c === '\\' && s[i + 1] === '=') {
        cur += '=';
        i++;
      } else if (c === '=') {
        if (newDir !== null) return fail(ctx, "must be OLDDIR=NEWDIR with one unescaped '=' (write '\\=' for '=' inside a path)");
        oldDir = cur;
        newDir = '';
        cur = '';
      } else {
        cur += c;
      }
    }
    if (newDir === null) return fail(ctx, "must be OLDDIR=NEWDIR: the '=' is missing");
    newDir = cur;
    if (oldDir === '' || newDir === '') return fail(ctx, 'must be OLDDIR=NEWDIR with both directories given');
    if (!oldDir.startsWith('/')) return fail(ctx, `old directory "${oldDir}" must be an absolute path`);
    if (!newDir.startsWith('/')) return fail(ctx, `new directory "${newDir}" must be an absolute path`);
    return { oldDir, newDir };
  });
}

/** Runs a value schema and returns the value or the one-line reason it was refused. */
export function checkText<T>(schema: TextSchema<T>, text: string): { ok: true; value: T } | { ok: false; message: string } {
  const r = schema.safeParse(text);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: r.error.issues[0]?.message ?? 'invalid value' };
}
