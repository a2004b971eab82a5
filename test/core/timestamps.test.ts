import { formatControlTime, formatLocalTime, formatTimeWithOffset, parseControlTime } from '../../core/timestamps';

const T = Date.UTC(2024, 4, 2, 8, 19, 37) / 1000; // 2024-05-02 08:19:37 UTC

describe('timestamps', () => {
  it('formats UTC for control files', () => {
    expect(formatControlTime(T)).toBe('2024-05-02 08:19:37+00');
    expect(formatControlTime(0)).toBe('1970-01-01 00:00:00+00');
  });

  it('parses all offset forms', () => {
    expect(parseControlTime('2024-05-02 08:19:37+00')).toBe(T);
    expect(parseControlTime('2024-05-02 08:19:37')).toBe(T);
    expect(parseControlTime('2024-05-02 11:19:37+03')).toBe(T);
    expect(parseControlTime('2024-05-02 05:19:37-03')).toBe(T);
    expect(parseControlTime('2024-05-02 13:49:37+05:30')).toBe(T);
    expect(parseControlTime('2024-05-02 13:49:37+0530')).toBe(T);
    expect(parseControlTime('2024-05-02 13:49:47+05:30:10')).toBe(T);
    expect(parseControlTime('2024-05-02 02:49:37-05:30')).toBe(T);
  });

  it('accepts any separators and two-digit years', () => {
    expect(parseControlTime('2024/05/02T08:19:37')).toBe(T);
    expect(parseControlTime('2024.05.02_08.19.37')).toBe(T);
    expect(parseControlTime('24-05-02 08:19:37')).toBe(T);
    expect(parseControlTime('  2024-5-2 8:19:37  ')).toBe(T);
  });

  it('rejects junk and fractional seconds', () => {
    expect(parseControlTime('2024-05-02 08:19:37.123')).toBeNull();
    expect(parseControlTime('2024-05-02 08:19:37.123+00')).toBeNull();
    expect(parseControlTime('2024-05-02')).toBeNull();
    expect(parseControlTime('2024-13-02 08:19:37')).toBeNull();
    expect(parseControlTime('2024-02-30 08:19:37')).toBeNull();
    expect(parseControlTime('garbage')).toBeNull();
    expect(parseControlTime('')).toBeNull();
  });

  it('round-trips', () => {
    for (const t of [1, T, 1700000000, 2000000000]) expect(parseControlTime(formatControlTime(t))).toBe(t);
  });

  it('formats time at an offset', () => {
    expect(formatTimeWithOffset(T, 0)).toBe('2024-05-02 08:19:37+00');
    expect(formatTimeWithOffset(T, 3 * 3600)).toBe('2024-05-02 11:19:37+03');
    expect(formatTimeWithOffset(T, 5.5 * 3600)).toBe('2024-05-02 13:49:37+05:30');
    expect(formatTimeWithOffset(T, -2.5 * 3600)).toBe('2024-05-02 05:49:37-02:30');
    expect(parseControlTime(formatTimeWithOffset(T, -2.5 * 3600))).toBe(T);
  });

  it('formats local time with the process offset', () => {
    const off = -new Date(T * 1000).getTimezoneOffset() * 60;
    expect(formatLocalTime(T)).toBe(formatTimeWithOffset(T, off));
    expect(parseControlTime(formatLocalTime(T))).toBe(T);
  });
});
