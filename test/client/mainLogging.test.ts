import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { maskPassword } from '../../client/main';
import { runMain } from './runMain';

describe('file logging through main()', () => {
  let B: string;
  beforeEach(async () => {
    B = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gsmainlog-')), 'cat');
    expect((await runMain(['init', '-B', B])).code).toBe(0);
    fs.mkdirSync(path.join(B, 'backups', 'node'));
    fs.mkdirSync(path.join(B, 'wal', 'node'));
    fs.writeFileSync(path.join(B, 'backups', 'node', 'pg_probackup.conf'), 'pgdata = /data\n');
  });
  afterEach(() => fs.rmSync(path.dirname(B), { recursive: true, force: true }));

  it('is off by default: no log directory appears', async () => {
    expect((await runMain(['set-config', '-B', B, '--instance=node', '--compress-level=3'])).code).toBe(0);
    expect(fs.existsSync(path.join(B, 'log'))).toBe(false);
  });

  it('--log-level-file logs the command line into $BACKUP_PATH/log', async () => {
    const r = await runMain(['set-config', '-B', B, '--instance=node', '--log-level-file=log']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const log = fs.readFileSync(path.join(B, 'log', 'pg_probackup.log'), 'utf8');
    expect(log).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \[\d+\]: INFO: command: gs_probackup set-config -B \S+ --instance=node --log-level-file=log\n/);
    expect(log).toMatch(/LOG: set-config: log-level-file\n$/);
  });

  it('an instance whose pg_probackup.conf enables file logging logs its errors there', async () => {
    fs.writeFileSync(path.join(B, 'backups', 'node', 'pg_probackup.conf'), `pgdata = /data\nlog-level-file = INFO\nlog-directory = ${B}/mylog\n`);
    const r = await runMain(['backup', '-B', B, '--instance=node', '-b', 'FULL', '-W', 'hunter2']);
    expect(r.stderr).toBe("ERROR: pg_probackup.conf of instance 'node' has no system-identifier: recreate the instance with add-instance\n");
    const log = fs.readFileSync(path.join(B, 'mylog', 'pg_probackup.log'), 'utf8');
    expect(log).toMatch(/INFO: command: gs_probackup backup -B \S+ --instance=node -b FULL -W \*{8}\n.*ERROR: pg_probackup.conf of instance 'node' has no system-identifier.*\n$/);
    expect(log).not.toContain('hunter2');
  });

  it('masks -W and --password values', () => {
    expect(maskPassword(['backup', '-W', 'x', '--password=y', '-Wz', '--password', 'q'])).toEqual([
      'backup', '-W', '********', '--password=********', '-W********', '--password', '********',
    ]);
  });

  it('an unknown key in pg_probackup.conf is an error naming the file and the key', async () => {
    const conf = path.join(B, 'backups', 'node', 'pg_probackup.conf');
    fs.writeFileSync(conf, 'pgdata = /data\nretention_days = 7\n');
    const r = await runMain(['show-config', '-B', B, '--instance=node']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `ERROR: invalid option "retention_days" in file "${conf}" line 2: not a pg_probackup.conf option\n` });
  });
});
