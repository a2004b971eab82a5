/**
 * The WAL archive through the real CLI and a real PostgreSQL 15: archive-push as the server's own
 * archive_command, archive-get as a restored server's restore_command. Oracles from outside our
 * code: PostgreSQL's archiver statistics, pg_waldump reading what was archived, and a point-in-time
 * recovery past the backup's end reaching data that only the archive holds.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { CLI, cliOk, runCli } from '../helpers/cli';
import { sleep, waitFor } from '../helpers/durability';
import { createCluster, freePort, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;
let backupPath: string;
let env: Record<string, string>;
let archiveDir: string;
const work: string[] = [];

function tmp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  work.push(d);
  return d;
}

beforeAll(async () => {
  const root = tmp('walarch-');
  backupPath = path.join(root, 'catalog');
  archiveDir = path.join(backupPath, 'wal', 'node');
  // The server archives through the CLI from its first segment on: the catalog exists before it starts.
  cluster = await createCluster({
    start: false,
    conf: {
      archive_mode: 'on',
      archive_command: `'"${CLI}" archive-push -B "${backupPath}" --instance node --wal-file-path=%p --wal-file-name=%f'`,
      archive_timeout: 0,
    },
  });
  env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'node', '-D', cluster.pgdata], env);
  await cluster.start();
});

afterAll(async () => {
  await cluster?.destroy();
  for (const d of work) fs.rmSync(d, { recursive: true, force: true });
});

/** Writes a little, switches to a new segment and waits until the archiver has pushed the one it closed. */
async function switchAndArchive(): Promise<string> {
  await cluster.psql('create table if not exists filler (x int); insert into filler values (1)');
  // pg_switch_wal() ends the segment: the name of an LSN at a segment's end is that segment's.
  const seg = await cluster.psql('select pg_walfile_name(pg_switch_wal())');
  await waitFor(`${seg} archived`, async () => (await cluster.psql('select coalesce(last_archived_wal, \'\') from pg_stat_archiver')) >= seg, 60_000, 100);
  return seg;
}

/** pg_waldump reads every record of an archived segment (gunzipped first when it is .gz). */
async function expectValidSegment(file: string): Promise<void> {
  const dir = tmp('dump-');
  const name = path.basename(file).replace(/\.gz$/, '');
  const data = fs.readFileSync(file);
  fs.writeFileSync(path.join(dir, name), file.endsWith('.gz') ? zlib.gunzipSync(data) : data);
  expect(fs.statSync(path.join(dir, name)).size).toBe(16 * 1024 * 1024);
  const r = await run(pgBin('pg_waldump'), ['-p', dir, name]);
  // A segment's last record may continue into the next one, which is not here: pg_waldump says so.
  expect(r.stderr.replace(/^pg_waldump: error: error in WAL record at .*\n?$/m, '')).toBe('');
  expect(r.stdout).toMatch(/rmgr: /);
}

test('PostgreSQL archives through archive-push: plain segments, then gzip ones once the instance compresses', async () => {
  await cluster.psql('create table t as select g from generate_series(1, 50000) g');
  const plain = await switchAndArchive();
  expect(fs.existsSync(path.join(archiveDir, plain))).toBe(true);
  await expectValidSegment(path.join(archiveDir, plain));

  await cliOk(['set-config', '--instance', 'node', '--compress-algorithm=zlib', '--compress-level=1'], env);
  await cluster.psql('insert into t select g from generate_series(1, 50000) g');
  const gz = await switchAndArchive();
  expect(fs.existsSync(path.join(archiveDir, `${gz}.gz`))).toBe(true);
  expect(fs.existsSync(path.join(archiveDir, gz))).toBe(false);
  expect(fs.statSync(path.join(archiveDir, `${gz}.gz`)).size).toBeLessThan(16 * 1024 * 1024 / 4);
  await expectValidSegment(path.join(archiveDir, `${gz}.gz`));
  expect(await cluster.psql('select failed_count from pg_stat_archiver')).toBe('0');
  expect(fs.readdirSync(archiveDir).filter((n) => n.endsWith('.part'))).toEqual([]);
  await cliOk(['set-config', '--instance', 'node', '--compress-algorithm=none'], env);
});

test('the same file again is skipped; a different one of that name is refused, or replaced with --overwrite', async () => {
  const seg = await switchAndArchive();
  const archived = fs.readFileSync(path.join(archiveDir, seg));
  // Pushed from outside the data directory: no pg_control there to check, so one file at a time.
  const outside = tmp('pgwal-');
  fs.writeFileSync(path.join(outside, seg), archived);
  const push = (extra: string[] = []) => runCli(['archive-push', '--instance', 'node', `--wal-file-path=${path.join(outside, seg)}`, `--wal-file-name=${seg}`, ...extra], env);

  const same = await push();
  expect(same.code).toBe(0);
  expect(same.stderr).toMatch(/INFO: gs_probackup archive-push completed successfully, pushed: 0, skipped: 1, time elapsed: /);

  const changed = Buffer.from(archived);
  changed[100] ^= 0xff;
  fs.writeFileSync(path.join(outside, seg), changed);
  const refused = await push();
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`WARNING: WAL file already exists in archive with different checksum: "${path.join(archiveDir, seg)}"`);
  expect(refused.stderr).toMatch(/ERROR: gs_probackup archive-push failed, pushed: 0, skipped: 0, failed: 1/);
  expect(fs.readFileSync(path.join(archiveDir, seg)).equals(archived)).toBe(true);

  const replaced = await push(['--overwrite']);
  expect(replaced.code).toBe(0);
  expect(fs.readFileSync(path.join(archiveDir, seg)).equals(changed)).toBe(true);
  // Put history back as it was.
  fs.writeFileSync(path.join(archiveDir, seg), archived);
});

test('a stale .part of a dead push is taken over after --archive-timeout; one that grows is left alone', async () => {
  const seg = await switchAndArchive();
  const outside = tmp('pgwal-');
  const next = `${seg.slice(0, 16)}FFFFFFFF`.slice(0, 24);
  fs.writeFileSync(path.join(outside, next), Buffer.alloc(16 * 1024 * 1024, 1));
  const part = path.join(archiveDir, `${next}.part`);
  const push = () => runCli(['archive-push', '--instance', 'node', `--wal-file-path=${path.join(outside, next)}`, `--wal-file-name=${next}`, '--archive-timeout=2', '--log-level-console=log'], env);

  // Another push writing: the .part grows while we wait.
  fs.writeFileSync(part, 'x');
  let growing = true;
  const grow = (async () => {
    while (growing) {
      fs.appendFileSync(part, 'more');
      await sleep(200);
    }
  })();
  const busy = await push();
  growing = false;
  await grow;
  expect(busy.code).toBe(1);
  expect(busy.stderr).toContain(`Failed to open temp WAL file "${part}" in 2 seconds: another archive-push is writing it`);
  expect(fs.existsSync(path.join(archiveDir, next))).toBe(false);

  // Its writer died: the .part stays as it is, and is taken over.
  const stale = await push();
  expect(stale.code).toBe(0);
  expect(stale.stderr).toContain(`LOG: Reusing stale temp WAL file "${part}"`);
  expect(fs.existsSync(part)).toBe(false);
  expect(fs.readFileSync(path.join(archiveDir, next)).equals(Buffer.alloc(16 * 1024 * 1024, 1))).toBe(true);
  fs.rmSync(path.join(archiveDir, next));
});

test('--batch-size pushes the files PostgreSQL has marked ready ahead, -j at a time, and marks them done', async () => {
  // Archiving held back: three segments wait as .ready.
  await cluster.psql("alter system set archive_command = 'false'; select pg_reload_conf()");
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    await cluster.psql(`insert into filler values (${i})`);
    names.push(await cluster.psql('select pg_walfile_name(pg_switch_wal())'));
  }
  const status = path.join(cluster.pgdata, 'pg_wal', 'archive_status');
  await waitFor('three .ready files', () => names.every((n) => fs.existsSync(path.join(status, `${n}.ready`))), 30_000, 100);
  const r = await run(CLI, ['archive-push', '-B', backupPath, '--instance', 'node', `--wal-file-path=pg_wal/${names[0]}`, `--wal-file-name=${names[0]}`, '--batch-size=3', '-j', '2'], { cwd: cluster.pgdata, env: { ...process.env, HOME: process.env.HOME ?? '/tmp' } });
  expect(r.stderr).toContain(`INFO: gs_probackup archive-push WAL file: ${names[0]}, threads: 2/2, batch: 3/3, compression: none`);
  expect(r.stderr).toMatch(/INFO: gs_probackup archive-push completed successfully, pushed: 3, skipped: 0/);
  expect(r.code).toBe(0);
  for (const n of names) await expectValidSegment(path.join(archiveDir, n));
  // PostgreSQL marks the file it asked for itself; the others are marked done for it.
  expect(fs.existsSync(path.join(status, `${names[0]}.ready`))).toBe(true);
  for (const n of names.slice(1)) expect([n, fs.existsSync(path.join(status, `${n}.done`))]).toEqual([n, true]);

  await cluster.psql('alter system reset archive_command; select pg_reload_conf()');
  await waitFor(`${names[0]} archived by PostgreSQL`, async () => (await cluster.psql("select coalesce(last_archived_wal, '') from pg_stat_archiver")) >= names[0], 60_000, 100);
  expect(fs.existsSync(path.join(status, `${names[0]}.done`))).toBe(true);
});

test('a file from another cluster is refused; bad names are refused before anything is read', async () => {
  const other = await createCluster({ start: false });
  try {
    fs.writeFileSync(path.join(other.pgdata, 'pg_wal', '000000010000000000000063'), Buffer.alloc(1024));
    const r = await run(CLI, ['archive-push', '-B', backupPath, '--instance', 'node', '--wal-file-path=pg_wal/000000010000000000000063', '--wal-file-name=000000010000000000000063'], { cwd: other.pgdata });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERROR: Refuse to push WAL segment 000000010000000000000063 into archive\. Instance parameters mismatch\. Instance 'node' should have SYSTEM_ID = \d+ instead of \d+/);
  } finally {
    await other.destroy();
  }
  for (const name of ['../../etc/passwd', 'pg_control']) {
    const r = await runCli(['archive-push', '--instance', 'node', `--wal-file-name=${name}`], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERROR: option --wal-file-name: invalid value/);
  }
  expect(fs.readdirSync(archiveDir).filter((n) => !/^[0-9A-F]{24}(\.gz)?$|\.history$/.test(n))).toEqual([]);
});

test('archive-get feeds a point-in-time recovery past the backup: the restore_command restore writes by default', async () => {
  const b = await cliOk(['backup', '--instance', 'node', '-b', 'FULL', '--stream', '-j', '2'], env);
  const id = /INFO: Backup (\w+) completed/.exec(b.stderr)![1];
  // Written after the backup: only the archive holds it.
  await cluster.psql('create table after_backup as select g from generate_series(1, 1000) g');
  // The insert position: with synchronous_commit off the write position may be short of the commit.
  const lsn = await cluster.psql('select pg_current_wal_insert_lsn()');
  await cluster.psql('create table too_late as select 1 as x');
  await switchAndArchive();

  // validate follows the WAL past the backup into the archive, as recovery will.
  const v = await runCli(['validate', '--instance', 'node', '-i', id, `--recovery-target-lsn=${lsn}`], env);
  expect(v.stderr).toMatch(/INFO: Backup validation completed successfully on time \S+ \S+, xid \d+ and LSN /);
  expect(v.code).toBe(0);
  await cluster.psql('create table not_archived_yet as select 1 as x');
  const far = await cluster.psql('select pg_current_wal_insert_lsn()');
  const short = await runCli(['validate', '--instance', 'node', '-i', id, `--recovery-target-lsn=${far}`], env);
  expect(short.code).toBe(1);
  expect(short.stderr).toMatch(new RegExp(`ERROR: Not enough WAL records to lsn ${far}: the WAL of backup ${id} and the WAL archive \\(\\d+ segments\\), which end at \\S+, have no record at or past that LSN`));

  const target = path.join(tmp('pitr-'), 'data');
  await cliOk(['restore', '--instance', 'node', '-D', target, '-i', id, `--recovery-target-lsn=${lsn}`, '--recovery-target-action=promote'], env);
  const auto = fs.readFileSync(path.join(target, 'postgresql.auto.conf'), 'utf8');
  expect(auto).toContain(`restore_command = '"${CLI}" archive-get -B "${backupPath}" --instance "node" --wal-file-path=%p --wal-file-name=%f'`);

  const port = await freePort();
  const sock = tmp('pgr-');
  // The restored server keeps the source's archive_command: promoted, it archives its new timeline
  // into the same archive, as a cluster recovered in place would.
  const start = await run(pgBin('pg_ctl'), ['-D', target, '-w', '-t', '120', '-l', path.join(sock, 'log'), '-o', `-p ${port} -k ${sock} -c listen_addresses=''`, 'start']);
  expect(start.code).toBe(0);
  try {
    const q = async (sql: string) => (await run(pgBin('psql'), ['-XAtq', '-h', sock, '-p', String(port), '-d', 'postgres', '-c', sql])).stdout.trim();
    await waitFor('promotion', async () => (await q('select pg_is_in_recovery()')) === 'f', 60_000, 200);
    expect(await q('select count(*) from after_backup')).toBe('1000');
    expect(await q("select to_regclass('too_late') is null")).toBe('t');
    const log = fs.readFileSync(path.join(sock, 'log'), 'utf8');
    expect(log).toMatch(/restored log file "[0-9A-F]{24}" from archive/);
    expect(log).toMatch(/recovery stopping after WAL location \(LSN\)|recovery stopping before|reached at/);

    // show --archive: timeline 2 branches off timeline 1 after the backup it was restored from.
    const seg2 = await q('create table on_tli2 as select 1 as x; select pg_walfile_name(pg_switch_wal())');
    expect(seg2.startsWith('00000002')).toBe(true);
    await waitFor(`${seg2} archived`, async () => fs.existsSync(path.join(archiveDir, seg2)), 60_000, 100);
    const history = fs.readFileSync(path.join(archiveDir, '00000002.history'), 'utf8').trim().split('\n').at(-1)!.split('\t');
    const onTli = (tli: string) => fs.readdirSync(archiveDir).filter((n) => new RegExp(`^${tli}[0-9A-F]{16}(\\.gz)?$`).test(n)).sort();
    const shown = await cliOk(['show', '--instance', 'node', '--archive', '--format=json'], env);
    const [inst] = JSON.parse(shown.stdout) as { instance: string; timelines: Record<string, unknown>[] }[];
    expect(inst.instance).toBe('node');
    expect(inst.timelines.map((t) => [t.tli, t['parent-tli'], t.switchpoint, t['min-segno'], t['max-segno'], t['n-segments'], t['closest-backup-id'], t.status])).toEqual([
      [2, 1, history[1], onTli('00000002')[0], onTli('00000002').at(-1)!.replace('.gz', ''), onTli('00000002').length, id, 'OK'],
      [1, 0, '0/0', onTli('00000001')[0].replace('.gz', ''), onTli('00000001').at(-1)!.replace('.gz', ''), onTli('00000001').length, '', 'OK'],
    ]);
    expect((inst.timelines[1].backups as { id: string }[]).map((b) => b.id)).toContain(id);
    const plain = await cliOk(['show', '--instance', 'node', '--archive'], env);
    expect(plain.stdout).toMatch(new RegExp(`^\\nARCHIVE INSTANCE 'node'\\n=+\\n TLI  Parent TLI  Switchpoint +Min Segno +Max Segno +N segments  Size +Zratio  N backups  Status \\n=+\\n 2 +1 +${history[1]} `));
  } finally {
    await run(pgBin('pg_ctl'), ['-D', target, '-w', '-m', 'fast', 'stop']);
  }
});

test('delete --delete-wal removes the WAL before the oldest backup of a timeline, and keeps a timeline a backup reaches', async () => {
  const ids = fs.readdirSync(path.join(backupPath, 'backups', 'node')).filter((n) => /^[0-9A-Z]+$/.test(n));
  expect(ids).toHaveLength(1);
  const startLsn = /^start-lsn = (\S+)/m.exec(fs.readFileSync(path.join(backupPath, 'backups', 'node', ids[0], 'backup.control'), 'utf8'))![1];
  // PostgreSQL names the segment the backup starts in: everything before it on timeline 1 goes.
  const keepFrom = await cluster.psql(`select pg_walfile_name('${startLsn}')`);
  const before = fs.readdirSync(archiveDir).sort();
  const segOf = (n: string) => n.slice(0, 24);
  const expectedGone = before.filter((n) => n.startsWith('00000001') && /^[0-9A-F]{24}/.test(n) && segOf(n) < keepFrom);
  expect(expectedGone.length).toBeGreaterThan(0);
  expect(before.some((n) => n.startsWith('00000002'))).toBe(true);

  // wal-depth (keep WAL for the last N backups of each timeline) is not built: nothing goes.
  const depth = await cliOk(['delete', '--instance', 'node', '--delete-wal', '--wal-depth=2'], env);
  expect(depth.stderr).toContain('WARNING: WAL purge with wal-depth 2 is not implemented yet: the WAL archive of instance node is kept');
  expect(depth.stderr).not.toContain('There is no WAL to purge');
  expect(fs.readdirSync(archiveDir).sort()).toEqual(before);

  const dry = await cliOk(['delete', '--instance', 'node', '--delete-wal', '--dry-run'], env);
  expect(dry.stderr).toContain(`INFO: On timeline 1 WAL segments between ${before.filter((n) => n.startsWith('00000001') && /^[0-9A-F]{24}/.test(n))[0].slice(0, 24)} and ${keepFrom} can be removed`);
  expect(dry.stderr).toMatch(/INFO: Resident WAL size to free on timeline 1 : \d+/);
  expect(fs.readdirSync(archiveDir).sort()).toEqual(before);

  const r = await cliOk(['delete', '--instance', 'node', '--delete-wal'], env);
  expect(r.stderr).toContain(`will be removed`);
  expect(r.stderr).not.toMatch(/On timeline 2/);
  const after = fs.readdirSync(archiveDir).sort();
  expect(after).toEqual(before.filter((n) => !expectedGone.includes(n)));
  // What recovery from the backup needs is all there still: validate follows it through the archive.
  const lsn = await cluster.psql('select pg_current_wal_insert_lsn()');
  await cluster.psql('create table after_purge as select 1 as x');
  await switchAndArchive();
  const v = await runCli(['validate', '--instance', 'node', '-i', ids[0], `--recovery-target-lsn=${lsn}`], env);
  expect(v.stderr).toMatch(/INFO: Backup validation completed successfully/);
  expect(v.code).toBe(0);
  const again = await cliOk(['delete', '--instance', 'node', '--delete-wal'], env);
  expect(again.stderr).toContain('INFO: Nothing to remove on timeline 1');
});
