/**
 * The direct catalog commands against a real PostgreSQL 15 data directory (initdb, not started):
 * init → add-instance → show-config → set-config → show → set-backup → del-instance, and every
 * refused command line leaves the catalog byte-for-byte as it was. Runs main() in-process; a few
 * cases run bin/gs_probackup as a child process for the exit codes a shell sees.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';
import { runCli, CLI, REPO_ROOT } from '../helpers/cli';
import { runMain } from '../client/runMain';

jest.setTimeout(120_000);

/** Paths, types, modes, sizes, mtimes and content hashes: any write shows up as a difference. */
function snapshot(dir: string): string[] {
  if (!fs.existsSync(dir)) return ['<absent>'];
  const out: string[] = [];
  const walk = (d: string) => {
    const st = fs.lstatSync(d);
    const rel = path.relative(dir, d) || '.';
    if (st.isDirectory()) {
      out.push(`${rel} dir ${st.mode.toString(8)} ${st.mtimeMs}`);
      for (const name of fs.readdirSync(d).sort()) walk(path.join(d, name));
    } else {
      const hash = createHash('sha256').update(fs.readFileSync(d)).digest('hex');
      out.push(`${rel} file ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${hash}`);
    }
  };
  walk(dir);
  return out;
}

let cluster: PgCluster;
let work: string;
let B: string;
const NODE = 'node';
const BACKUP_ID = 'SCUN4E';

/** A backup.control as pg_probackup 2.5.16 writes it (spec §3), for set-backup and show. */
const CONTROL = `#Configuration
backup-mode = FULL
stream = true
compress-alg = none
compress-level = 1
from-replica = false

#Compatibility
block-size = 8192
xlog-block-size = 8192
checksum-version = 1
program-version = 2.5.16
server-version = 15

#Result backup info
timelineid = 1
start-lsn = 0/4C000028
stop-lsn = 0/4D0000B8
start-time = '2024-05-02 08:19:26+00'
end-time = '2024-05-02 08:19:39+00'
recovery-xid = 743
recovery-time = '2024-05-02 08:19:36+00'
data-bytes = 250000000
wal-bytes = 16777216
uncompressed-bytes = 578000000
pgdata-bytes = 578000000
status = OK
content-crc = 1234567890
`;

beforeAll(async () => {
  cluster = await createCluster({ start: false });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'gscat-'));
  B = path.join(work, 'catalog');
});

afterAll(async () => {
  await cluster?.destroy();
  if (work) {
    for (const d of [path.join(work, 'ro'), path.join(work, 'catalog', 'backups')]) fs.existsSync(d) && fs.chmodSync(d, 0o700);
    fs.rmSync(work, { recursive: true, force: true });
  }
});

describe('catalog commands on a real data directory', () => {
  it('init creates the catalog 0700 and refuses a non-empty directory', async () => {
    const r = await runMain(['init', '-B', B]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: `INFO: Backup catalog '${B}' successfully initialized\n` });
    for (const d of [B, path.join(B, 'backups'), path.join(B, 'wal')]) expect(fs.statSync(d).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(B).sort()).toEqual(['backups', 'wal']);
  });

  it('add-instance reads pg_control and stores what the command line gave', async () => {
    const r = await runMain(
      ['add-instance', '--instance', NODE, '--compress-algorithm=zlib', '--retention-redundancy=2', '-d', 'backupdb', '--remote-host=db1', '--log-rotation-age=1d'],
      { BACKUP_PATH: B, PGDATA: cluster.pgdata },
    );
    expect(r).toEqual({ code: 0, stdout: '', stderr: `INFO: Instance '${NODE}' successfully initialized\n` });
    const ctl = await run(pgBin('pg_controldata'), ['-D', cluster.pgdata]);
    const sysid = /Database system identifier:\s+(\d+)/.exec(ctl.stdout)![1];
    const seg = /Bytes per WAL segment:\s+(\d+)/.exec(ctl.stdout)![1];
    expect(fs.readFileSync(path.join(B, 'backups', NODE, 'pg_probackup.conf'), 'utf8')).toBe(
      [
        '# Backup instance information',
        `pgdata = ${cluster.pgdata}`,
        `system-identifier = ${sysid}`,
        `xlog-seg-size = ${seg}`,
        '# Connection parameters',
        'pgdatabase = backupdb',
        '# Logging parameters',
        'log-rotation-age = 1d',
        '# Retention parameters',
        'retention-redundancy = 2',
        '# Compression parameters',
        'compress-algorithm = zlib',
        '# Remote access parameters',
        'remote-host = db1',
        '',
      ].join('\n'),
    );
    for (const d of [path.join(B, 'backups', NODE), path.join(B, 'wal', NODE)]) expect(fs.statSync(d).mode & 0o777).toBe(0o700);
  });

  it('add-instance records a non-default WAL segment size from pg_control', async () => {
    const c32 = await createCluster({ start: false, initdbArgs: ['--wal-segsize=32'] });
    try {
      const r = await runMain(['add-instance', '-B', B, '--instance=seg32', '-D', c32.pgdata]);
      expect(r.code).toBe(0);
      const conf = fs.readFileSync(path.join(B, 'backups', 'seg32', 'pg_probackup.conf'), 'utf8');
      expect(conf).toContain('xlog-seg-size = 33554432\n');
      expect((await runMain(['del-instance', '-B', B, '--instance=seg32'])).code).toBe(0);
    } finally {
      await c32.destroy();
    }
  });

  it('show-config prints the settings over defaults, plain and JSON, scaled and not', async () => {
    const plain = await runMain(['show-config', '-B', B, '--instance', NODE]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^# Backup instance information\npgdata = .*\nsystem-identifier = \d+\nxlog-seg-size = 16777216\n# Connection parameters\npgdatabase = backupdb\n# Replica parameters\nreplica-timeout = 5min\n# Archive parameters\narchive-timeout = 5min\n/);
    expect(plain.stdout).toContain('log-rotation-size = 0TB\nlog-rotation-age = 1d\n# Retention parameters\nretention-redundancy = 2\nretention-window = 0\n');
    expect(plain.stdout.endsWith('# Remote access parameters\nremote-proto = ssh\nremote-host = db1\n')).toBe(true);

    const base = await runMain(['show-config', '-B', B, '--instance', NODE, '--no-scale-units']);
    expect(base.stdout).toContain('replica-timeout = 300\n# Archive parameters\narchive-timeout = 300\n');
    expect(base.stdout).toContain('log-rotation-age = 86400000\n');

    const json = await runMain(['show-config', '-B', B, `--instance=${NODE}`, '--format=json']);
    const obj = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(obj).toMatchObject({ pgdata: cluster.pgdata, 'archive-timeout': '5min', 'compress-algorithm': 'zlib', 'retention-redundancy': '2' });
    expect(json.stdout.startsWith('{\n    "pgdata": ')).toBe(true);
    const jsonBase = JSON.parse((await runMain(['show-config', '-B', B, `--instance=${NODE}`, '--format=json', '--no-scale-units'])).stdout);
    expect(jsonBase).toMatchObject({ 'archive-timeout': 300, 'retention-redundancy': 2, 'xlog-seg-size': 16777216, 'log-level-console': 'INFO' });
  });

  it('set-config changes the file atomically and show-config reflects it', async () => {
    const r = await runMain(['set-config', '-B', B, '--instance', NODE, '--archive-timeout=10min', '--retention-window=7', '-E', '/mnt/a:/mnt/b', '--compress-level', '5']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const text = fs.readFileSync(path.join(B, 'backups', NODE, 'pg_probackup.conf'), 'utf8');
    expect(text).toContain('external-dirs = /mnt/a:/mnt/b\n');
    expect(text).toContain('# Archive parameters\narchive-timeout = 10min\n');
    expect(text).toContain('retention-redundancy = 2\nretention-window = 7\n');
    expect(text).toContain('compress-algorithm = zlib\ncompress-level = 5\n');
    expect(fs.readdirSync(path.join(B, 'backups', NODE))).toEqual(['pg_probackup.conf']);
    expect(fs.statSync(path.join(B, 'backups', NODE, 'pg_probackup.conf')).mode & 0o777).toBe(0o600);
    const shown = await runMain(['show-config', '-B', B, '--instance', NODE]);
    expect(shown.stdout).toContain('archive-timeout = 10min\n');
    const cleared = await runMain(['set-config', '-B', B, '--instance', NODE, '-E', 'none']);
    expect(cleared.code).toBe(0);
    expect(fs.readFileSync(path.join(B, 'backups', NODE, 'pg_probackup.conf'), 'utf8')).not.toContain('external-dirs');
  });

  it('show: all instances, one instance, JSON, with and without backups', async () => {
    fs.mkdirSync(path.join(B, 'backups', 'empty'), { mode: 0o700 });
    fs.mkdirSync(path.join(B, 'wal', 'empty'), { mode: 0o700 });
    fs.writeFileSync(path.join(B, 'backups', 'empty', 'pg_probackup.conf'), `pgdata = ${cluster.pgdata}\n`);
    const all = await runMain(['show', '-B', B]);
    expect(all.code).toBe(0);
    expect(all.stderr).toBe('');
    expect(all.stdout).toContain(`\nBACKUP INSTANCE 'empty'\n`);
    expect(all.stdout).toContain(`\nBACKUP INSTANCE '${NODE}'\n`);
    expect(all.stdout.indexOf("'empty'")).toBeLessThan(all.stdout.indexOf(`'${NODE}'`));
    const one = await runMain(['show', '-B', B, '--instance', NODE]);
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain('BACKUP INSTANCE');
    expect(one.stdout).toMatch(/Instance +Version +ID +Recovery Time +Mode +WAL Mode +TLI +Time +Data +WAL +Zratio +Start LSN +Stop LSN +Status/);
    expect(JSON.parse((await runMain(['show', '-B', B, '--format=json'])).stdout)).toEqual([
      { instance: 'empty', backups: [] },
      { instance: NODE, backups: [] },
    ]);

    const dir = path.join(B, 'backups', NODE, BACKUP_ID);
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'backup.control'), CONTROL, { mode: 0o600 });
    const withBackup = await runMain(['show', '-B', B, '--instance', NODE]);
    expect(withBackup.stdout).toMatch(new RegExp(`\\n ${NODE} +15 +${BACKUP_ID} .* FULL +STREAM +1/0 +13s +238MB +16MB +2\\.31 +0/4C000028 +0/4D0000B8 +OK +\\n`));
    const js = JSON.parse((await runMain(['show', '-B', B, '--instance', NODE, '--format=json'])).stdout);
    expect(js).toHaveLength(1);
    expect(js[0].backups[0]).toMatchObject({ id: BACKUP_ID, 'backup-mode': 'FULL', status: 'OK', 'start-lsn': '0/4C000028', 'recovery-xid': 743 });
    const detail = await runMain(['show', '-B', B, '--instance', NODE, '-i', BACKUP_ID]);
    expect(detail.stdout).toContain('backup-mode = FULL\n');
    expect(detail.stdout).toContain('status = OK\n');
    const missing = await runMain(['show', '-B', B, '--instance', NODE, '-i', 'SCUN00']);
    expect(missing).toEqual({ code: 0, stdout: '', stderr: 'INFO: Requested backup SCUN00 is not found.\n' });
    fs.rmSync(path.join(B, 'backups', 'empty'), { recursive: true });
    fs.rmSync(path.join(B, 'wal', 'empty'), { recursive: true });
  });

  it('set-backup pins with --ttl=30d or --expire-time, unpins with --ttl=0, sets and removes a note', async () => {
    const file = path.join(B, 'backups', NODE, BACKUP_ID, 'backup.control');
    const recovery = Date.UTC(2024, 4, 2, 8, 19, 36) / 1000;
    const ttl = await runMain(['set-backup', '-B', B, '--instance', NODE, '-i', BACKUP_ID, '--ttl=30d']);
    expect(ttl.code).toBe(0);
    expect(ttl.stderr).toMatch(new RegExp(`^INFO: Backup ${BACKUP_ID} is pinned until '2024-06-0[01] \\d\\d:19:36[+-]\\d\\d(:\\d\\d)?'\\n$`));
    expect(fs.readFileSync(file, 'utf8')).toContain(`expire-time = '2024-06-01 08:19:36+00'\n`);
    expect(recovery + 30 * 86400).toBe(Date.UTC(2024, 5, 1, 8, 19, 36) / 1000);

    const at = await runMain(['set-backup', '-B', B, '--instance', NODE, '-i', BACKUP_ID, '--expire-time=2030-01-01 00:00:00+03']);
    expect(at.code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toContain(`expire-time = '2029-12-31 21:00:00+00'\n`);

    const un = await runMain(['set-backup', '-B', B, '--instance', NODE, '-i', BACKUP_ID, '--ttl=0']);
    expect(un).toEqual({ code: 0, stdout: '', stderr: `INFO: Backup ${BACKUP_ID} is unpinned\n` });
    expect(fs.readFileSync(file, 'utf8')).not.toContain('expire-time');

    const note = await runMain(['set-backup', '-B', B, '--instance', NODE, '-i', BACKUP_ID, '--note', "before upgrade; it's fine"]);
    expect(note).toEqual({ code: 0, stdout: '', stderr: `INFO: Adding note to backup ${BACKUP_ID}: 'before upgrade; it's fine'\n` });
    const js = JSON.parse((await runMain(['show', '-B', B, '--instance', NODE, '--format=json'])).stdout);
    expect(js[0].backups[0].note).toBe("before upgrade; it's fine");
    const rm = await runMain(['set-backup', '-B', B, '--instance', NODE, '-i', BACKUP_ID, '--note=none']);
    expect(rm.stderr).toBe(`INFO: Removing note from backup ${BACKUP_ID}\n`);
    expect(fs.readFileSync(file, 'utf8')).not.toContain('note');
  });

  describe('refused command lines change nothing', () => {
    const notCluster = () => path.join(work, 'notcluster');
    const cases: Array<[string, () => string[], () => Record<string, string>, () => string]> = [
      ['missing -B, BACKUP_PATH unset', () => ['show'], () => ({}), () => 'ERROR: required parameter not specified: BACKUP_PATH (-B, --backup-path)'],
      ['relative -B', () => ['show', '-B', 'catalog'], () => ({}), () => 'ERROR: option -B/--backup-path: invalid value "catalog": must be an absolute path'],
      ['relative BACKUP_PATH', () => ['show'], () => ({ BACKUP_PATH: 'catalog' }), () => 'ERROR: environment variable BACKUP_PATH: invalid value "catalog": must be an absolute path'],
      ['unknown flag', () => ['show', '-B', B, '--verbose'], () => ({}), () => 'ERROR: unrecognized option "--verbose" for command "show": see "gs_probackup help show" for the options it accepts'],
      ['missing value', () => ['show-config', '-B', B, '--instance'], () => ({}), () => 'ERROR: option --instance requires a value: --instance=instance-name'],
      ['init into a non-empty directory', () => ['init', '-B', B], () => ({}), () => `ERROR: backup catalog '${B}' already exists and is not empty: choose an empty or missing directory`],
      ['add-instance of an existing instance', () => ['add-instance', '-B', B, '--instance', NODE, '-D', cluster.pgdata], () => ({}),
        () => `ERROR: instance '${NODE}' already exists in backup catalog '${B}' (${B}/backups/${NODE}): choose another name or run del-instance first`],
      ['add-instance of a directory that is not a cluster', () => ['add-instance', '-B', B, '--instance', 'n2', '-D', notCluster()], () => ({}),
        () => `ERROR: '${notCluster()}' is not a PostgreSQL data directory: file '${notCluster()}/global/pg_control' does not exist; give the cluster's data directory with -D`],
      ['add-instance without -D or PGDATA', () => ['add-instance', '-B', B, '--instance', 'n2'], () => ({}), () => 'ERROR: no data directory specified: give -D/--pgdata or set PGDATA'],
      ['--compress-level=12', () => ['set-config', '-B', B, '--instance', NODE, '--compress-level=12'], () => ({}), () => 'ERROR: option --compress-level: invalid value "12": must be an integer from 0 to 9'],
      ['--compress-algorithm=lz5', () => ['set-config', '-B', B, '--instance', NODE, '--compress-algorithm=lz5'], () => ({}), () => 'ERROR: option --compress-algorithm: invalid value "lz5": must be one of none, zlib, pglz'],
      ['--retention-redundancy=-1', () => ['set-config', '-B', B, '--instance', NODE, '--retention-redundancy=-1'], () => ({}), () => 'ERROR: option --retention-redundancy: invalid value "-1": must be an integer from 0 to 4294967295'],
      ['--ttl=abc', () => ['set-backup', '-B', B, '--instance', NODE, '-i', BACKUP_ID, '--ttl=abc'], () => ({}), () => 'ERROR: option --ttl: invalid value "abc": must be an integer >= 0 with an optional unit ms, s, min, h or d (default s), e.g. 30d'],
      ['--expire-time not ISO-8601', () => ['set-backup', '-B', B, '--instance', NODE, '-i', BACKUP_ID, '--expire-time=01/02/2030'], () => ({}), () => 'ERROR: option --expire-time: invalid value "01/02/2030": must be an ISO-8601 timestamp such as \'2020-01-01 00:00:00+03\''],
      ['-j 0', () => ['backup', '-B', B, '--instance', NODE, '-b', 'FULL', '-j', '0'], () => ({}), () => 'ERROR: option -j/--threads: invalid value "0": must be an integer from 1 to 1024'],
      ['-E not absolute', () => ['set-config', '-B', B, '--instance', NODE, '-E', 'scripts'], () => ({}), () => 'ERROR: option -E/--external-dirs: invalid value "scripts": every directory must be an absolute path ("scripts" is not); separate several with \':\''],
      ['-b WRONG', () => ['backup', '-B', B, '--instance', NODE, '-b', 'WRONG'], () => ({}), () => 'ERROR: option -b/--backup-mode: invalid value "WRONG": must be one of FULL, PAGE, PTRACK, DELTA'],
      ['--format=xml', () => ['show', '-B', B, '--format=xml'], () => ({}), () => 'ERROR: option --format: invalid value "xml": must be one of plain, json'],
      ['--status=FOO', () => ['delete', '-B', B, '--instance', NODE, '--status=FOO'], () => ({}), () => 'ERROR: option --status: invalid value "FOO": must be one of OK, ERROR, RUNNING, MERGING, MERGED, DELETING, DELETED, DONE, ORPHAN, CORRUPT'],
      ['--recovery-target-inclusive=maybe', () => ['restore', '-B', B, '--instance', NODE, '--recovery-target-xid=5', '--recovery-target-inclusive=maybe'], () => ({}),
        () => 'ERROR: option --recovery-target-inclusive: invalid value "maybe": must be a boolean: true or false (also on/off, yes/no, 1/0)'],
      ['-T without =', () => ['restore', '-B', B, '--instance', NODE, '-T', '/mnt/ts'], () => ({}), () => 'ERROR: option -T/--tablespace-mapping: invalid value "/mnt/ts": must be OLDDIR=NEWDIR: the \'=\' is missing'],
      ['-T with a relative path', () => ['restore', '-B', B, '--instance', NODE, '-T', '/mnt/ts=ts'], () => ({}), () => 'ERROR: option -T/--tablespace-mapping: invalid value "/mnt/ts=ts": new directory "ts" must be an absolute path'],
      ['two recovery targets', () => ['restore', '-B', B, '--instance', NODE, '--recovery-target-time=2024-01-01 00:00:00+00', '--recovery-target-lsn=0/1'], () => ({}),
        () => 'ERROR: options --recovery-target-time and --recovery-target-lsn cannot be used together: give one recovery target'],
      ['-i malformed', () => ['show', '-B', B, '--instance', NODE, '-i', 'SC/UN'], () => ({}), () => 'ERROR: option -i/--backup-id: invalid value "SC/UN": must be a backup ID: 1 to 13 letters and digits (base36), e.g. SCUN4E'],
      ...(['show-config', 'set-config', 'del-instance', 'show', 'backup -b FULL', 'restore', 'merge -i SCUN4E', 'delete --delete-expired', 'validate', 'archive-push --wal-file-name=000000010000000000000001', 'set-backup -i SCUN4E --note=x'] as const).map(
        (cmd): [string, () => string[], () => Record<string, string>, () => string] => [
          `${cmd.split(' ')[0]} on a missing instance`,
          () => [...cmd.split(' ').slice(0, 1), '-B', B, '--instance=ghost', ...cmd.split(' ').slice(1)],
          () => ({}),
          () => `ERROR: instance 'ghost' does not exist in backup catalog '${B}': run add-instance first`,
        ],
      ),
      ['backup -b PAGE (not built yet)', () => ['backup', '-B', B, '--instance', NODE, '-b', 'PAGE'], () => ({}), () => 'ERROR: option -b/--backup-mode: invalid value "PAGE": only FULL and DELTA backups are implemented so far'],
      ['merge of a FULL backup without children', () => ['merge', '-B', B, '--instance', NODE, '-i', BACKUP_ID], () => ({}),
        () => `INFO: Merge started\nERROR: Failed to find merge candidate, backup ${BACKUP_ID} has no valid children`],
      ['merge of an unknown backup', () => ['merge', '-B', B, '--instance', NODE, '-i', 'ZZZZZZ'], () => ({}),
        () => 'INFO: Merge started\nERROR: Target backup ZZZZZZ was not found: see "gs_probackup show" for the backups of the instance'],
    ];

    beforeAll(() => fs.mkdirSync(notCluster(), { recursive: true }));

    it.each(cases)('%s', async (_name, argv, env, message) => {
      const before = snapshot(B);
      const r = await runMain(argv(), env());
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 1, stdout: '', stderr: `${message()}\n` });
      expect(snapshot(B)).toEqual(before);
    });

    it('a backup path the user cannot write: init and add-instance fail and change nothing', async () => {
      if (process.getuid?.() === 0) throw new Error('run this test as a non-root user (root ignores directory permissions)');
      const ro = path.join(work, 'ro');
      fs.mkdirSync(ro, { mode: 0o500 });
      fs.chmodSync(ro, 0o500);
      const before = snapshot(ro);
      const r = await runMain(['init', '-B', ro]);
      expect(r).toEqual({ code: 1, stdout: '', stderr: `ERROR: could not create directory "${ro}/backups": permission denied\n` });
      expect(snapshot(ro)).toEqual(before);

      fs.chmodSync(path.join(B, 'backups'), 0o500);
      try {
        const beforeB = snapshot(B);
        const a = await runMain(['add-instance', '-B', B, '--instance', 'n3', '-D', cluster.pgdata]);
        expect(a).toEqual({ code: 1, stdout: '', stderr: `ERROR: could not write to directory "${B}/backups": permission denied\n` });
        expect(snapshot(B)).toEqual(beforeB);
      } finally {
        fs.chmodSync(path.join(B, 'backups'), 0o700);
      }
    });
  });

  it('del-instance removes the instance, its backups and its WAL archive', async () => {
    fs.writeFileSync(path.join(B, 'wal', NODE, '000000010000000000000001'), 'x');
    const r = await runMain(['del-instance', '-B', B, '--instance', NODE]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: `INFO: Instance '${NODE}' successfully deleted\n` });
    expect(fs.readdirSync(path.join(B, 'backups'))).toEqual([]);
    expect(fs.readdirSync(path.join(B, 'wal'))).toEqual([]);
    const empty = await runMain(['show', '-B', B, '--format=json']);
    expect(JSON.parse(empty.stdout)).toEqual([]);
  });

  describe('bin/gs_probackup as a child process', () => {
    beforeAll(() => {
      if (!fs.existsSync(CLI) || !fs.existsSync(path.join(REPO_ROOT, 'dist', 'client', 'main.js'))) {
        throw new Error(`${CLI} or dist/client/main.js is missing: build first (npm run build)`);
      }
    });

    it('exit 0 with the version on stdout', async () => {
      const r = await runCli(['--version']);
      expect(r).toEqual({ code: 0, stdout: 'gs_probackup 2.5.16 (gs_probackup on Temporal 0.1.0, PostgreSQL 15)\n', stderr: '' });
    });

    it('exit 1 and one ERROR line for a bad value, catalog unchanged', async () => {
      const before = snapshot(B);
      const r = await runCli(['show', '-B', B, '--format=xml']);
      expect(r).toEqual({ code: 1, stdout: '', stderr: 'ERROR: option --format: invalid value "xml": must be one of plain, json\n' });
      expect(snapshot(B)).toEqual(before);
    });

    it('init / add-instance / show-config through the binary with BACKUP_PATH and PGDATA', async () => {
      const b2 = path.join(work, 'cat2');
      expect((await runCli(['init'], { BACKUP_PATH: b2 })).code).toBe(0);
      const a = await runCli(['add-instance', '--instance=main'], { BACKUP_PATH: b2, PGDATA: cluster.pgdata });
      expect(a).toEqual({ code: 0, stdout: '', stderr: "INFO: Instance 'main' successfully initialized\n" });
      const s = await runCli(['show-config', '--instance=main', '--format=json'], { BACKUP_PATH: b2 });
      expect(s.code).toBe(0);
      expect(JSON.parse(s.stdout).pgdata).toBe(cluster.pgdata);
    });
  });
});
