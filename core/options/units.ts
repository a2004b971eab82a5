/**
 * Option values with units, as pg_probackup.conf and the command line write them (spec §6):
 * time in ms/s/min/h/d, memory in kB/MB/GB/TB. Values are kept in the option's base unit and
 * rendered in the largest unit that divides them exactly, so `300` s prints as `5min`.
 */
export type TimeBase = 'ms' | 's' | 'min';
export type SizeBase = 'kB';
export type UnitBase = TimeBase | SizeBase;

const MS_PER: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const KB_PER: Record<string, number> = { kB: 1, KB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3 };

export const TIME_UNITS = ['ms', 's', 'min', 'h', 'd'] as const;
export const SIZE_UNITS = ['kB', 'MB', 'GB', 'TB'] as const;

function isTimeBase(base: UnitBase): base is TimeBase {
  return base !== 'kB';
}

/** Why a value was refused, phrased to follow "must be ...". */
export function unitValueRule(base: UnitBase, min = 0): string {
  return isTimeBase(base)
    ? `must be an integer >= ${min} with an optional unit ms, s, min, h or d (default ${base}), e.g. 30d`
    : `must be an integer >= ${min} with an optional unit kB, MB, GB or TB (default kB), e.g. 10MB`;
}

/**
 * Parses `<int>[ ]<unit>` into the base unit. Returns null when the text is not such a value or
 * when the unit cannot be represented exactly in the base unit (e.g. `1500ms` for seconds).
 */
export function parseUnitValue(text: string, base: UnitBase): number | null {
  const m = /^\s*([+-]?\d+)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n)) return null;
  const unit = m[2];
  if (unit === '') return n;
  if (isTimeBase(base)) {
    const from = MS_PER[unit];
    if (from === undefined) return null;
    const scaled = (n * from) / MS_PER[base];
    return Number.isSafeInteger(scaled) ? scaled : null;
  }
  const from = KB_PER[unit];
  if (from === undefined) return null;
  const scaled = n * from;
  return Number.isSafeInteger(scaled) ? scaled : null;
}

/** Largest unit that divides the value exactly, pg_probackup's convert_from_base_unit. */
export function formatUnitValue(value: number, base: UnitBase): string {
  if (isTimeBase(base)) {
    const ms = value * MS_PER[base];
    for (const unit of ['d', 'h', 'min', 's', 'ms']) {
      const per = MS_PER[unit];
      if (per < MS_PER[base]) break;
      if (ms % per === 0) return `${ms / per}${unit}`;
    }
    return `${value}${base}`;
  }
  for (const unit of ['TB', 'GB', 'MB']) {
    if (value % KB_PER[unit] === 0) return `${value / KB_PER[unit]}${unit}`;
  }
  return `${value}kB`;
}
