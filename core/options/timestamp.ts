/**
 * Timestamps typed by a user (`--expire-time`, `--recovery-target-time`): ISO-8601 the way
 * pg_probackup's parse_time reads them — `YYYY-MM-DD[ HH:MM[:SS]]` with any non-alphanumeric
 * separators (a `T` between date and time is allowed) and an optional zone `Z`, `±HH`, `±HHMM`,
 * `±HH:MM`. Without a zone the time is local, as PostgreSQL reads recovery_target_time.
 */
export interface ParsedTimestamp {
  /** Unix seconds. */
  unixSeconds: number;
  hasZone: boolean;
}

const TS_RE =
  /^\s*(\d{4})[^0-9A-Za-z](\d{1,2})[^0-9A-Za-z](\d{1,2})(?:(?:[T\s]|[^0-9A-Za-z+-])+(\d{1,2})[^0-9A-Za-z+-](\d{1,2})(?:[^0-9A-Za-z+-](\d{1,2}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/i;

export function parseTimestamp(text: string, opts: { utcDefault?: boolean } = {}): ParsedTimestamp | null {
  const m = TS_RE.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const zone = m[7];
  let ms: number;
  if (zone !== undefined || opts.utcDefault) {
    let offsetMin = 0;
    if (zone && zone.toUpperCase() !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0'));
    }
    ms = Date.UTC(y, mo - 1, d, h, mi, s) - offsetMin * 60_000;
  } else {
    ms = new Date(y, mo - 1, d, h, mi, s).getTime();
  }
  // Date rolls 2021-02-30 over into March; a timestamp that does not round-trip is not a date.
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCDate() !== d || Number.isNaN(ms)) return null;
  return { unixSeconds: Math.floor(ms / 1000), hasZone: zone !== undefined };
}
