/**
 * Timestamps in backup.control and `show` (spec §3, §12). Files are written in UTC
 * (`YYYY-MM-DD HH:MM:SS+00`); `show` prints local time with the offset (`+03`, `+05:30`).
 */

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Time as seen at UTC offset `offsetSec` (seconds east of UTC), with the offset appended. */
export function formatTimeWithOffset(unixSec: number, offsetSec: number): string {
  const d = new Date((unixSec + offsetSec) * 1000);
  const base =
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const abs = Math.abs(offsetSec);
  const hours = Math.floor(abs / 3600);
  const minutes = Math.floor((abs % 3600) / 60);
  let off = `${offsetSec >= 0 ? '+' : '-'}${pad(hours)}`;
  if (minutes > 0) off += `:${pad(minutes)}`;
  return base + off;
}

/** `YYYY-MM-DD HH:MM:SS+00` (UTC), as written into backup.control. */
export function formatControlTime(unixSec: number): string {
  return formatTimeWithOffset(Math.floor(unixSec), 0);
}

/** Local time with its UTC offset, as `show` prints it: `2024-05-02 11:19:37+03`, `...+05:30`. */
export function formatLocalTime(unixSec: number): string {
  const s = Math.floor(unixSec);
  const offsetSec = -new Date(s * 1000).getTimezoneOffset() * 60;
  return formatTimeWithOffset(s, offsetSec);
}

const TIME_RE =
  /^\s*(\d+)[^0-9A-Za-z]+(\d+)[^0-9A-Za-z]+(\d+)(?:[^0-9A-Za-z]+|[Tt])(\d+)[^0-9A-Za-z]+(\d+)[^0-9A-Za-z]+(\d+)\s*(?:([+-])(\d{1,2})(?::?(\d{2})(?::?(\d{2}))?)?)?\s*$/;

/**
 * Parses a backup.control timestamp to Unix seconds. Accepts six numeric fields separated by any
 * non-alphanumeric characters (or a `T` between date and time), an optional offset `+HH`, `-HH`,
 * `+HH:MM`, `+HHMM`, `+HH:MM:SS` (missing ⇒ UTC). Two-digit years get +2000. Fractional seconds
 * are rejected. Returns null when the text is not a valid timestamp.
 */
export function parseControlTime(text: string): number | null {
  const m = TIME_RE.exec(text);
  if (!m) return null;
  let year = Number(m[1]);
  const [month, day, hour, min, sec] = [m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (m[1].length <= 2) year += 2000;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || min > 59 || sec > 60) return null;
  const local = Date.UTC(year, month - 1, day, hour, min, sec);
  const check = new Date(local);
  if (check.getUTCDate() !== day && hour < 24 && sec < 60) return null; // e.g. Feb 30
  let offset = 0;
  if (m[7] !== undefined) {
    const oh = Number(m[8]);
    const om = m[9] !== undefined ? Number(m[9]) : 0;
    const os = m[10] !== undefined ? Number(m[10]) : 0;
    if (oh > 15 || om > 59 || os > 59) return null;
    offset = (oh * 3600 + om * 60 + os) * (m[7] === '-' ? -1 : 1);
  }
  return Math.floor(local / 1000) - offset;
}
