import { formatBytes, formatDuration, formatProgressLine, ProgressView, RateMeter } from '../../client/temporal/progressView';
import type { Progress } from '../../workflows/progress';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, isTTY, write: (t: string) => chunks.push(t), text: () => chunks.join('') };
}

const base: Progress = { operation: 'backup', phase: 'copying', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, log: [] };

describe('progress formatting', () => {
  test('bytes and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 kB');
    expect(formatBytes(15 * 1024 ** 3)).toBe('15 GB');
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(310)).toBe('5m10s');
    expect(formatDuration(3 * 3600 + 7 * 60)).toBe('3h07m');
  });

  test('status line with rate and ETA', () => {
    const p = { ...base, filesDone: 120, filesTotal: 1500, bytesDone: 100 * 1024 ** 2, bytesTotal: 400 * 1024 ** 2 };
    expect(formatProgressLine(p, 10 * 1024 ** 2)).toBe('Progress: copying, files 120/1500 (8%), 100 MB/400 MB, 10 MB/s, ETA 30s');
    expect(formatProgressLine({ ...base, phase: 'checkpoint' }, undefined)).toBe('Progress: checkpoint');
  });

  test('rate over a window, reset when counters go back', () => {
    const m = new RateMeter(10_000);
    expect(m.rate()).toBeUndefined();
    m.add(0, 0);
    m.add(1000, 1000);
    m.add(2000, 3000);
    expect(m.rate()).toBe(1500);
    m.add(3000, 10);
    expect(m.rate()).toBeUndefined();
  });
});

describe('ProgressView', () => {
  test('prints each log line once, in order', () => {
    const err = sink(false);
    const v = new ProgressView({ stderr: err, showProgress: false });
    v.update({ ...base, log: ['INFO: a'] });
    v.update({ ...base, log: ['INFO: a', 'INFO: b', 'WARNING: c'] });
    v.update({ ...base, log: ['INFO: a', 'INFO: b', 'WARNING: c'] });
    expect(err.text()).toBe('INFO: a\nINFO: b\nWARNING: c\n');
  });

  test('onLog receives the lines instead of stderr', () => {
    const err = sink(false);
    const got: string[] = [];
    const v = new ProgressView({ stderr: err, showProgress: false, onLog: (l) => got.push(l) });
    v.update({ ...base, log: ['INFO: x'] });
    expect(got).toEqual(['INFO: x']);
    expect(err.text()).toBe('');
  });

  test('terminal: the status line is redrawn in place and cleared before log lines', () => {
    const err = sink(true);
    let now = 0;
    const v = new ProgressView({ stderr: err, showProgress: true, now: () => now });
    v.update({ ...base, filesTotal: 2, filesDone: 1 });
    now = 1000;
    v.update({ ...base, filesTotal: 2, filesDone: 2, log: ['INFO: done copying'] });
    v.clearLine();
    expect(err.text()).toBe(
      '\r\x1b[KProgress: copying, files 1/2 (50%)' + '\r\x1b[K' + 'INFO: done copying\n' + '\r\x1b[KProgress: copying, files 2/2 (100%)' + '\r\x1b[K',
    );
  });

  test('pipe: one INFO status line per interval, only when it changed', () => {
    const err = sink(false);
    let now = 10_000;
    const v = new ProgressView({ stderr: err, showProgress: true, now: () => now, plainIntervalMs: 5000 });
    v.update({ ...base, filesTotal: 4, filesDone: 1 });
    now += 1000;
    v.update({ ...base, filesTotal: 4, filesDone: 2 });
    now += 5000;
    v.update({ ...base, filesTotal: 4, filesDone: 3 });
    now += 5000;
    v.update({ ...base, filesTotal: 4, filesDone: 3 });
    expect(err.text()).toBe('INFO: Progress: copying, files 1/4 (25%)\nINFO: Progress: copying, files 3/4 (75%)\n');
  });
});
