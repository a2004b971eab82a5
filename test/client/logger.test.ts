import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger, strftime } from '../../client/logger';

function sink(): { text: string; write(s: string): void } {
  return {
    text: '',
    write(s: string) {
      this.text += s;
    },
  };
}

describe('logger', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gslog-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints LEVEL: message at or above the console level', () => {
    const err = sink();
    const l = new Logger(err);
    l.verbose('v');
    l.log('l');
    l.info('i');
    l.warning('w');
    l.error('e');
    expect(err.text).toBe('INFO: i\nWARNING: w\nERROR: e\n');
    const err2 = sink();
    const l2 = new Logger(err2, { levelConsole: 'VERBOSE' });
    l2.verbose('v');
    l2.log('l');
    expect(err2.text).toBe('VERBOSE: v\nLOG: l\n');
    const err3 = sink();
    new Logger(err3, { levelConsole: 'OFF' }).error('e');
    expect(err3.text).toBe('');
  });

  it('writes no file while log-level-file is off', () => {
    new Logger(sink(), { directory: dir }).error('x');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('writes `YYYY-MM-DD HH:MM:SS TZ [pid]: LEVEL: msg` to a strftime-named file, ERRORs also to error-log-filename', () => {
    const now = new Date(2024, 4, 6, 11, 19, 37); // a Monday
    const l = new Logger(sink(), { directory: path.join(dir, 'log'), levelFile: 'LOG', filename: 'pbk-%u.log', errorFilename: 'err-%Y%m%d.log' }, () => now);
    l.verbose('not logged');
    l.log('a log line');
    l.error('it failed');
    const main = fs.readFileSync(path.join(dir, 'log', 'pbk-1.log'), 'utf8').split('\n');
    const re = (lvl: string, msg: string) => new RegExp(`^2024-05-06 11:19:37 \\S+ \\[${process.pid}\\]: ${lvl}: ${msg}$`);
    expect(main[0]).toMatch(re('LOG', 'a log line'));
    expect(main[1]).toMatch(re('ERROR', 'it failed'));
    expect(main).toHaveLength(3);
    const errs = fs.readFileSync(path.join(dir, 'log', 'err-20240506.log'), 'utf8');
    expect(errs.split('\n')[0]).toMatch(re('ERROR', 'it failed'));
    expect(fs.readFileSync(path.join(dir, 'log', 'pbk-1.log.rotation'), 'utf8')).toBe(`${Math.floor(now.getTime() / 1000)}\n`);
    expect(fs.statSync(path.join(dir, 'log')).mode & 0o777).toBe(0o700);
  });

  it('rotates by age and by size when a command opens the file, appends otherwise', () => {
    const file = path.join(dir, 'pg_probackup.log');
    const t0 = new Date(2024, 0, 1, 0, 0, 0);
    new Logger(sink(), { directory: dir, levelFile: 'INFO' }, () => t0).info('first');
    const t1 = new Date(t0.getTime() + 30 * 60_000);
    new Logger(sink(), { directory: dir, levelFile: 'INFO', rotationAgeMs: 3600_000 }, () => t1).info('second');
    expect(fs.readFileSync(file, 'utf8').match(/INFO/g)).toHaveLength(2);
    const t2 = new Date(t0.getTime() + 2 * 3600_000);
    new Logger(sink(), { directory: dir, levelFile: 'INFO', rotationAgeMs: 3600_000 }, () => t2).info('third');
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^[^\n]*INFO: third\n$/);
    expect(fs.readFileSync(`${file}.rotation`, 'utf8')).toBe(`${Math.floor(t2.getTime() / 1000)}\n`);

    fs.appendFileSync(file, 'x'.repeat(2048));
    new Logger(sink(), { directory: dir, levelFile: 'INFO', rotationSizeKb: 1 }, () => t2).info('after size rotation');
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^[^\n]*INFO: after size rotation\n$/);
  });

  it('recreates a missing rotation file with a warning', () => {
    const err = sink();
    fs.writeFileSync(path.join(dir, 'pg_probackup.log'), 'old\n');
    new Logger(err, { directory: dir, levelFile: 'INFO' }).info('x');
    expect(err.text).toContain(`WARNING: missing or invalid rotation file "${path.join(dir, 'pg_probackup.log.rotation')}": recreating it\n`);
    expect(fs.readFileSync(path.join(dir, 'pg_probackup.log'), 'utf8')).toMatch(/^old\n.*INFO: x\n$/);
  });

  it('a log file it cannot write is a warning, not a failure', () => {
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro, { mode: 0o500 });
    const err = sink();
    const l = new Logger(err, { directory: path.join(ro, 'sub'), levelFile: 'INFO' });
    l.info('a');
    l.info('b');
    if (process.getuid?.() === 0) return; // root writes anyway
    expect(err.text.match(/WARNING: cannot write log file/g)).toHaveLength(1);
    expect(err.text).toContain('INFO: b\n');
  });

  it('strftime escapes', () => {
    const d = new Date(2024, 11, 31, 7, 8, 9);
    expect(strftime('%Y-%m-%d_%H%M%S %j %a %b %y %w %u %%', d)).toBe('2024-12-31_070809 366 Tue Dec 24 2 2 %');
  });
});
