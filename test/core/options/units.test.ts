import { formatUnitValue, parseUnitValue } from '../../../core/options/units';
import { parseTimestamp } from '../../../core/options/timestamp';

describe('unit values (pg_probackup configuration.c tables)', () => {
  it.each([
    ['300', 's', 300],
    ['5min', 's', 300],
    ['5 min', 's', 300],
    ['30d', 's', 2592000],
    ['2h', 's', 7200],
    ['2000ms', 's', 2],
    ['1d', 'ms', 86400000],
    ['10', 'ms', 10],
    ['1MB', 'kB', 1024],
    ['1KB', 'kB', 1],
    ['3GB', 'kB', 3 * 1024 * 1024],
    ['1TB', 'kB', 1024 ** 3],
  ] as const)('%s in %s = %d', (text, base, want) => {
    expect(parseUnitValue(text, base)).toBe(want);
  });

  it.each([['abc', 's'], ['5 minutes', 's'], ['1500ms', 's'], ['1.5h', 's'], ['5mb', 'kB'], ['', 's'], ['5s', 'kB']] as const)(
    'refuses %j for base %s',
    (text, base) => {
      expect(parseUnitValue(text, base)).toBeNull();
    },
  );

  it.each([
    [300, 's', '5min'],
    [0, 's', '0d'],
    [86400, 's', '1d'],
    [90, 's', '90s'],
    [3600, 's', '1h'],
    [0, 'ms', '0d'],
    [1500, 'ms', '1500ms'],
    [86400000, 'ms', '1d'],
    [0, 'kB', '0TB'],
    [1024, 'kB', '1MB'],
    [1025, 'kB', '1025kB'],
    [1024 * 1024 * 1024, 'kB', '1TB'],
  ] as const)('%d %s renders as %s', (v, base, want) => {
    expect(formatUnitValue(v, base)).toBe(want);
    expect(parseUnitValue(want, base)).toBe(v);
  });
});

describe('ISO-8601 timestamps (--expire-time, --recovery-target-time)', () => {
  it.each([
    ['2020-01-01 00:00:00+03', Date.UTC(2019, 11, 31, 21) / 1000],
    ['2020-01-01 00:00:00+00', Date.UTC(2020, 0, 1) / 1000],
    ['2020-01-01T10:20:30Z', Date.UTC(2020, 0, 1, 10, 20, 30) / 1000],
    ['2020-01-01 10:20:30-05:30', Date.UTC(2020, 0, 1, 15, 50, 30) / 1000],
    ['2020-01-01 10:20:30+0530', Date.UTC(2020, 0, 1, 4, 50, 30) / 1000],
    ['2024/05/02 11:19:37+00', Date.UTC(2024, 4, 2, 11, 19, 37) / 1000],
    ['2020-01-01+00', Date.UTC(2020, 0, 1) / 1000],
  ])('%s', (text, want) => {
    expect(parseTimestamp(text)).toEqual({ unixSeconds: want, hasZone: true });
  });

  it('reads a time without zone as local time', () => {
    const t = parseTimestamp('2021-06-15 12:00:00')!;
    expect(t.hasZone).toBe(false);
    expect(t.unixSeconds).toBe(new Date(2021, 5, 15, 12, 0, 0).getTime() / 1000);
  });

  it.each(['tomorrow', '2020-13-01 00:00:00', '2021-02-30 00:00:00', '2020-01-01 25:00:00', '01/02/2020', '2020-01-01 00:00:00.5', ''])(
    'refuses %j',
    (text) => {
      expect(parseTimestamp(text)).toBeNull();
    },
  );
});
