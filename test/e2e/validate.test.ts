/**
 * validate against real damage on disk: each kind makes the backup CORRUPT (show says so, restore
 * refuses it unless --force), and undoing the damage makes it OK again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backupContentCrc, parseBackupContent, serializeBackupContent } from '../../core/backupContent';
import { parseBackupControl } from '../../core/backupControl';
import { crc32c } from '../../core/crc32c';
import { lsnFromBigInt, lsnToBigInt, parseLsn, walFileName } from '../../core/lsn';
import { cliOk, runCli } from '../helpers/cli';
import { createCluster, freePort, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;
let backupPath: string;
let env: Record<string, string>;
let id: string;
let dir: string;

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 2 });
  backupPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'val-')), 'catalog');
  env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'v', '-D', cluster.pgdata], env);
  const b = await cliOk(['backup', '--instance', 'v', '-b', 'FULL', '--stream', '--compress', '-j', '2'], env);
  id = /INFO: Backup (\w+) completed/.exec(b.stderr)![1];
  dir = path.join(backupPath, 'backups', 'v', id);
});

afterAll(async () => {
  await cluster?.destroy();
  fs.rmSync(path.dirname(backupPath), { recursive: true, force: true });
});

function entries() {
  return parseBackupContent(fs.readFileSync(path.join(dir, 'backup_content.control'), 'utf8'), 'backup_content.control');
}

function biggestDataFile(): string {
  const e = entries().filter((x) => x.isDatafile && x.size > 0).sort((a, b) => b.size - a.size)[0];
  expect(e.compressAlg).toBe('zlib');
  return path.join(dir, 'database', e.path);
}

async function status(): Promise<string> {
  const j = JSON.parse((await cliOk(['show', '--instance', 'v', '--format=json'], env)).stdout);
  return j[0].backups.find((b: { id: string }) => b.id === id).status;
}

async function expectCorrupt(message: RegExp): Promise<void> {
  // -j 2: the backup's files are checked by two worker threads, which must report the damage too.
  const r = await runCli(['validate', '--instance', 'v', '-i', id, '-j', '2'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(new RegExp(`ERROR: Backup ${id} is corrupt`));
  expect(await status()).toBe('CORRUPT');
}

async function expectValid(): Promise<void> {
  const r = await runCli(['validate', '--instance', 'v', '-i', id], env);
  if (r.code !== 0) throw new Error(r.stderr);
  expect(r.stderr).toMatch(new RegExp(`INFO: Backup ${id} is valid`));
  expect(await status()).toBe('OK');
}

function withDamage(name: string, damage: () => () => void, message: RegExp) {
  test(name, async () => {
    const undo = damage();
    try {
      await expectCorrupt(message);
    } finally {
      undo();
    }
    await expectValid();
  });
}

test('a fresh backup validates (all instances and one backup)', async () => {
  const r = await cliOk(['validate'], env);
  expect(r.stderr).toMatch(/INFO: All backups are valid/);
  await expectValid();
});

withDamage('a missing file', () => {
  const f = path.join(dir, 'database', 'PG_VERSION');
  fs.renameSync(f, `${f}.away`);
  return () => fs.renameSync(`${f}.away`, f);
}, /PG_VERSION" is missing/);

withDamage('a truncated data file', () => {
  const f = biggestDataFile();
  const orig = fs.readFileSync(f);
  fs.truncateSync(f, orig.length - 100);
  return () => fs.writeFileSync(f, orig);
}, /has size \d+, backup_content.control says \d+|truncated/);

withDamage('a flipped byte in a data file', () => {
  const f = biggestDataFile();
  const orig = fs.readFileSync(f);
  const bad = Buffer.from(orig);
  bad[Math.floor(bad.length / 2)] ^= 0x40;
  fs.writeFileSync(f, bad);
  return () => fs.writeFileSync(f, orig);
}, /is damaged|cannot decompress|page verification failed/);

withDamage('a corrupt compressed page whose file CRC was made to match (page-level check)', () => {
  const f = biggestDataFile();
  const rel = path.relative(path.join(dir, 'database'), f);
  const orig = fs.readFileSync(f);
  const content = path.join(dir, 'backup_content.control');
  const control = path.join(dir, 'backup.control');
  const origContent = fs.readFileSync(content, 'utf8');
  const origControl = fs.readFileSync(control, 'utf8');
  // Inside the first page's compressed payload (after its 8-byte header), then fix every CRC.
  const size = orig.readInt32LE(4);
  expect(size).toBeLessThan(8192);
  const bad = Buffer.from(orig);
  bad[8 + Math.floor(size / 2)] ^= 0xff;
  fs.writeFileSync(f, bad);
  const list = entries().map((e) => (e.path === rel ? { ...e, crc: crc32c(bad) } : e));
  const text = serializeBackupContent(list);
  fs.writeFileSync(content, text);
  fs.writeFileSync(control, origControl.replace(/content-crc = \d+/, `content-crc = ${backupContentCrc(text)}`));
  return () => {
    fs.writeFileSync(f, orig);
    fs.writeFileSync(content, origContent);
    fs.writeFileSync(control, origControl);
  };
}, /cannot decompress page|page verification failed|page header is invalid/);

withDamage('a damaged backup_content.control', () => {
  const f = path.join(dir, 'backup_content.control');
  const orig = fs.readFileSync(f);
  fs.writeFileSync(f, Buffer.concat([orig.subarray(0, 100), Buffer.from('X'), orig.subarray(101)]));
  return () => fs.writeFileSync(f, orig);
}, /backup_content.control" is damaged/);

withDamage('a missing WAL segment', () => {
  const wal = path.join(dir, 'database', 'pg_wal');
  const seg = fs.readdirSync(wal).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort()[0];
  fs.renameSync(path.join(wal, seg), path.join(wal, `${seg}.away`));
  return () => fs.renameSync(path.join(wal, `${seg}.away`), path.join(wal, seg));
}, /is missing|WAL segment .* is not in the backup/);

test('restore refuses a CORRUPT backup and says why; --force restores it anyway', async () => {
  const f = path.join(dir, 'database', 'PG_VERSION');
  fs.renameSync(f, `${f}.away`);
  try {
    await expectCorrupt(/is missing/);
  } finally {
    fs.renameSync(`${f}.away`, f);
  }
  const target = path.join(path.dirname(backupPath), 'restored');
  const r = await runCli(['restore', '--instance', 'v', '-D', target, '-i', id], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`ERROR: Backup ${id} has status: CORRUPT`));
  expect(fs.existsSync(target)).toBe(false);
  await cliOk(['restore', '--instance', 'v', '-D', target, '-i', id, '--force'], env);
  expect(fs.readFileSync(path.join(target, 'PG_VERSION'), 'utf8')).toBe('15\n');
  await expectValid();
});

describe('validate with a recovery target: reachable only with the WAL the backup holds, past its STOP LSN', () => {
  const control = () => parseBackupControl(fs.readFileSync(path.join(dir, 'backup.control'), 'utf8'), 'backup.control');
  const walDir = () => path.join(dir, 'database', 'pg_wal');
  const validate = (...args: string[]) => runCli(['validate', '--instance', 'v', ...args], env);

  /** The backup-end record, found by pg_waldump (independent of our reader). */
  async function backupEndLsn(): Promise<string> {
    const d = await run(pgBin('pg_waldump'), ['-p', walDir(), '-s', control().startLsn]);
    return lsnFromBigInt(lsnToBigInt(parseLsn(/lsn: (\S+), prev \S+, desc: BACKUP_END/.exec(d.stdout)![1])));
  }

  /** Restores with the target and starts PostgreSQL: its log says whether recovery got there. */
  async function postgresRecovers(target: string[]): Promise<string> {
    const pgdata = fs.mkdtempSync(path.join(path.dirname(backupPath), 'pitr-'));
    fs.rmdirSync(pgdata);
    // No restore_command given: restore writes archive-get's, and this catalog's WAL archive is
    // empty, so recovery reads only the pg_wal the backup restored.
    await cliOk(['restore', '--instance', 'v', '-D', pgdata, '-i', id, '--recovery-target-action=promote', ...target], env);
    const port = await freePort();
    await run(pgBin('pg_ctl'), ['-D', pgdata, '-l', `${pgdata}.log`, '-w', '-t', '60', '-o', `-p ${port} -k ${pgdata} -c listen_addresses=''`, 'start']);
    // Recovery ends by itself, promoted or failed: stopping it sooner would kill a restore_command.
    const ended = () => /database system is ready to accept connections|FATAL/.test(fs.readFileSync(`${pgdata}.log`, 'utf8'));
    for (let i = 0; i < 300 && !ended(); i++) await new Promise((r) => setTimeout(r, 100));
    await run(pgBin('pg_ctl'), ['-D', pgdata, '-m', 'immediate', 'stop']);
    const log = fs.readFileSync(`${pgdata}.log`, 'utf8');
    fs.rmSync(pgdata, { recursive: true, force: true });
    return log;
  }

  test('--recovery-target-lsn: at the backup end it is reached (PostgreSQL agrees); before it, or past the WAL, not', async () => {
    const c = control();
    const end = await backupEndLsn();
    const ok = await validate('--recovery-target-lsn', end);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(new RegExp(`INFO: Backup validation completed successfully on time \\S+ \\S+, xid \\d+ and LSN ${end}`));
    expect(ok.stderr).toMatch(new RegExp(`INFO: Backup ${id} is valid`));
    const log = await postgresRecovers(['--recovery-target-lsn', end]);
    expect(log).toMatch(/consistent recovery state reached/);
    expect(log).toMatch(new RegExp(`recovery stopping after WAL location \\(LSN\\) "${end}"`));
    expect(log).not.toMatch(/FATAL/);

    // Exclusive: recovery stops before the backup-end record, so before the backup is consistent.
    const excl = await validate('-i', id, '--recovery-target-lsn', end, '--recovery-target-inclusive=false');
    expect(excl.code).toBe(1);
    expect(excl.stderr).toMatch(new RegExp(`ERROR: Requested backup ${id} does not satisfy restore options: --recovery-target-lsn=${end} --recovery-target-inclusive=false stops recovery before the record at ${end}, before backup ${id} is consistent at its STOP LSN ${c.stopLsn}; PostgreSQL would fail with "requested recovery stop point is before consistent recovery point"`));
    const early = await validate('--recovery-target-lsn', c.startLsn);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(new RegExp(`ERROR: Backup satisfying target options is not found: --recovery-target-lsn=${c.startLsn} stops recovery after the record at ${c.startLsn}, before backup ${id} is consistent`));
    const late = await cluster.psql('select pg_current_wal_insert_lsn()');
    const far = await validate('--recovery-target-lsn', late);
    expect(far.code).toBe(1);
    expect(far.stderr).toMatch(/WARNING: Recovery can be done up to time \S+ \S+, xid \d+ and LSN \S+/);
    expect(far.stderr).toMatch(new RegExp(`ERROR: Not enough WAL records to lsn ${late}: the WAL in backup ${id}, which ends at \\S+, has no record at or past that LSN after the backup's STOP LSN ${c.stopLsn}, and the WAL archive has none of what follows .*"recovery ended before configured recovery target was reached"`));
  });

  test('--recovery-target-xid|time|name beyond the backup, or before its end, are not reached', async () => {
    // The backup's own restore point lies before its end (PostgreSQL agrees).
    const own = `pg_probackup, backup_id ${id}`;
    const r1 = await validate(`--recovery-target-name=${own}`);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(new RegExp(`ERROR: Backup satisfying target options is not found: --recovery-target-name='${own}' stops recovery after the record at \\S+, before backup ${id} is consistent`));
    expect(await postgresRecovers([`--recovery-target-name=${own}`])).toMatch(/FATAL: +requested recovery stop point is before consistent recovery point/);

    const [xid, now] = (await cluster.psql("select txid_current(), to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS+00'); select pg_create_restore_point('later')")).split('\n')[0].split('|');
    const r2 = await validate('--recovery-target-xid', xid);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(new RegExp(`ERROR: Not enough WAL records to xid ${xid}: .*has no COMMIT or ABORT of that transaction after the backup's STOP LSN`));
    const r3 = await validate(`--recovery-target-time=${now}`);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/ERROR: Not enough WAL records to time \S+ \S+: .*has no transaction that ends later than that time/);
    const r4 = await validate('--recovery-target-name=later', '-i', id);
    expect(r4.code).toBe(1);
    expect(r4.stderr).toMatch(/ERROR: Not enough WAL records to restore point 'later': .*has no restore point of that name/);
    expect(await status()).toBe('OK');
  });

  test('WAL held past the STOP LSN reaches xid, time and name targets (PostgreSQL agrees)', async () => {
    // A backup whose stream ran on: the source's next segments, added to the backup as the WAL
    // receiver would have added them, with backup_content.control updated.
    const c = control();
    await new Promise((r) => setTimeout(r, 1100));
    const [xid, t] = (await cluster.psql(
      "create table pitr (i int); insert into pitr values (1) returning txid_current(), to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS+00')",
    )).split('|');
    await new Promise((r) => setTimeout(r, 1100));
    await cluster.psql("insert into pitr values (2); select pg_create_restore_point('after the backup'); insert into pitr values (3); select pg_switch_wal()");
    const content = path.join(dir, 'backup_content.control');
    const ctl = path.join(dir, 'backup.control');
    const [origContent, origControl] = [fs.readFileSync(content, 'utf8'), fs.readFileSync(ctl, 'utf8')];
    const seg = 16 * 1024 * 1024;
    const list = entries();
    const template = list.find((e) => /^pg_wal\/[0-9A-F]{24}$/.test(e.path))!;
    const added: string[] = [];
    for (let s = lsnToBigInt(parseLsn(c.stopLsn)) / BigInt(seg) + 1n; ; s++) {
      const name = walFileName(1, s, seg);
      const src = path.join(cluster.pgdata, 'pg_wal', name);
      if (!fs.existsSync(src) || list.some((e) => e.path === `pg_wal/${name}`)) break;
      const data = fs.readFileSync(src);
      fs.writeFileSync(path.join(walDir(), name), data);
      list.push({ ...template, path: `pg_wal/${name}`, size: data.length, crc: crc32c(data) });
      added.push(name);
    }
    expect(added.length).toBeGreaterThan(0);
    const text = serializeBackupContent(list);
    fs.writeFileSync(content, text);
    fs.writeFileSync(ctl, origControl.replace(/content-crc = \d+/, `content-crc = ${backupContentCrc(text)}`));
    try {
      const rx = await validate('--recovery-target-xid', xid);
      if (rx.code !== 0) throw new Error(rx.stderr);
      expect(rx.stderr).toMatch(new RegExp(`stops after the record at \\S+, after the backup is consistent at ${c.stopLsn}`));
      expect(rx.stderr).toMatch(new RegExp(`INFO: Backup validation completed successfully on time \\S+ \\S+, xid ${xid} and LSN \\S+`));
      const rt = await validate(`--recovery-target-time=${t}`);
      expect(rt.code).toBe(0);
      expect(rt.stderr).toMatch(/INFO: Backup validation completed successfully on time/);
      const rn = await validate('--recovery-target-name=after the backup', '-i', id);
      expect(rn.code).toBe(0);
      expect(rn.stderr).toMatch(new RegExp(`INFO: Backup ${id} is valid`));
      const log = await postgresRecovers(['--recovery-target-name=after the backup']);
      expect(log).toMatch(/recovery stopping at restore point "after the backup"/);
      expect(log).not.toMatch(/FATAL/);
    } finally {
      for (const n of added) fs.rmSync(path.join(walDir(), n));
      fs.writeFileSync(content, origContent);
      fs.writeFileSync(ctl, origControl);
    }
  });

  test('a recovery target needs --instance; a restore point name has at most 63 bytes', async () => {
    const r = await runCli(['validate', '--recovery-target-xid=5'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/option --recovery-target-xid needs --instance/);
    const n = await validate(`--recovery-target-name=${'x'.repeat(64)}`);
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/option --recovery-target-name: 'x+' has 64 bytes; a restore point name has 1 to 63/);
  });
});
