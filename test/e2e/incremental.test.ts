/**
 * DELTA backups through the real CLI, on a real PostgreSQL 15 and the embedded Temporal server:
 * FULL → writes → DELTA → writes → DELTA; only the pages changed since the parent are stored, the
 * catalog says DELTA and names the parent as pg_probackup does, validation checks the chain, and
 * each backup restores to exactly the data it was taken of (pg_dump of the quiet source at backup
 * time, pg_amcheck, pg_checksums). A missing or corrupt ancestor is refused by name, and validate
 * makes the descendants of a CORRUPT backup ORPHAN.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseBackupContent } from '../../core/backupContent';
import { cliOk, runCli } from '../helpers/cli';
import { dump, startRestored, statusOf } from '../helpers/durability';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;
let backupPath: string;
let env: Record<string, string>;
const work: string[] = [];
/** Backup IDs and the dump of the quiet source taken right after each backup. */
const ids: Record<'full' | 'delta1' | 'delta2', string> = { full: '', delta1: '', delta2: '' };
const dumps: Record<string, string> = {};

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 2 });
  backupPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'inc-')), 'catalog');
  work.push(path.dirname(backupPath));
  env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'node', '-D', cluster.pgdata], env);
  await cluster.psql(`create table doomed as select g from generate_series(1, 50000) g; create table shrinking as select g from generate_series(1, 50000) g`);
});

afterAll(async () => {
  await cluster?.destroy();
  for (const d of work) fs.rmSync(d, { recursive: true, force: true });
});

const dir = (id: string) => path.join(backupPath, 'backups', 'node', id);
const content = (id: string) => parseBackupContent(fs.readFileSync(path.join(dir(id), 'backup_content.control'), 'utf8'), id);
const relPath = async (table: string) => cluster.psql(`select pg_relation_filepath('${table}')`);

async function backup(mode: 'FULL' | 'DELTA'): Promise<string> {
  const r = await cliOk(['backup', '--instance', 'node', '-b', mode, '--stream', '-j', '2'], env);
  const id = /INFO: Backup (\w+) completed/.exec(r.stderr)![1];
  dumps[id] = await dump(cluster.socketDir, cluster.port);
  return id;
}

async function showJson(): Promise<Record<string, unknown>[]> {
  return JSON.parse((await cliOk(['show', '--instance', 'node', '--format=json'], env)).stdout)[0].backups;
}

test('DELTA without a valid FULL backup is refused, naming the timeline, and leaves no backup behind', async () => {
  const r = await runCli(['backup', '--instance', 'node', '-b', 'DELTA', '--stream'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/ERROR: .*Valid full backup on current timeline 1 is not found\. Create new FULL backup before an incremental one\./);
  expect(fs.readdirSync(path.join(backupPath, 'backups', 'node')).filter((n) => !n.includes('.'))).toEqual([]);
});

test('FULL → writes → DELTA → writes → DELTA: only changed pages are stored; show says DELTA and names the parent', async () => {
  ids.full = await backup('FULL');
  const doomedFile = await relPath('doomed');
  const shrinkingFile = await relPath('shrinking');
  // Round 1: a few hundred rows of pgbench_accounts change, a table appears, one is dropped.
  await cluster.psql(`update pgbench_accounts set abalance = abalance + 1 where aid <= 3000;
    create table t1 as select g, md5(g::text) as v from generate_series(1, 20000) g;
    drop table doomed;
    delete from shrinking where g > 10000; vacuum shrinking;`);
  const t1File = await relPath('t1');
  ids.delta1 = await backup('DELTA');
  // Round 2: more changes, a table rewritten (new file), another one grows.
  await cluster.psql(`update pgbench_accounts set abalance = abalance - 7 where aid between 100000 and 102000;
    insert into t1 select g, md5(g::text) from generate_series(20001, 30000) g;
    truncate pgbench_history; insert into pgbench_history (tid, bid, aid, delta, mtime) values (1, 1, 1, 5, now());`);
  ids.delta2 = await backup('DELTA');

  const show = await showJson();
  const byId = (id: string) => show.find((b) => b.id === id)!;
  expect(byId(ids.full)).toMatchObject({ 'backup-mode': 'FULL', status: 'OK', 'parent-tli': 0 });
  expect(byId(ids.full)['parent-backup-id']).toBeUndefined();
  expect(byId(ids.delta1)).toMatchObject({ 'backup-mode': 'DELTA', 'parent-backup-id': ids.full, status: 'OK', wal: 'STREAM', 'current-tli': 1, 'parent-tli': 1 });
  expect(byId(ids.delta2)).toMatchObject({ 'backup-mode': 'DELTA', 'parent-backup-id': ids.delta1, status: 'OK' });
  const table = (await cliOk(['show', '--instance', 'node'], env)).stdout;
  expect(table).toMatch(new RegExp(` ${ids.delta2} .* DELTA +STREAM +1/1 .* OK`));
  expect(table).toMatch(new RegExp(` ${ids.full} .* FULL +STREAM +1/0 .* OK`));
  const detail = (await cliOk(['show', '--instance', 'node', '-i', ids.delta1], env)).stdout;
  expect(detail).toMatch(/^backup-mode = DELTA$/m);
  expect(detail).toMatch(new RegExp(`^parent-backup-id = '${ids.full}'$`, 'm'));

  // Stored bytes: a DELTA holds the changed pages, a small part of the FULL.
  const full = byId(ids.full)['data-bytes'] as number;
  const d1 = byId(ids.delta1)['data-bytes'] as number;
  const d2 = byId(ids.delta2)['data-bytes'] as number;
  process.stdout.write(`data-bytes: FULL ${full}, DELTA ${d1}, DELTA ${d2}\n`);
  expect(d1 * 5).toBeLessThan(full);
  expect(d2 * 5).toBeLessThan(full);

  const c1 = content(ids.delta1);
  // Unchanged data files are "look in the parent" (-1) and have no file in the backup.
  const unchanged = c1.filter((e) => e.isDatafile && e.size === -1);
  expect(unchanged.length).toBeGreaterThan(10);
  for (const e of unchanged.slice(0, 5)) expect(fs.existsSync(path.join(dir(ids.delta1), 'database', e.path))).toBe(false);
  // A changed file holds its changed pages only; every entry knows the file's length.
  const accountsFile = await relPath('pgbench_accounts');
  const accEntry = c1.find((e) => e.path === accountsFile)!;
  expect(accEntry.nBlocks).toBeGreaterThan(3000);
  expect(accEntry.nHeaders).toBeGreaterThan(0);
  expect(accEntry.nHeaders!).toBeLessThan(accEntry.nBlocks! / 5);
  // The dropped table's file is not in the DELTA (pg_probackup: absent from the list); the one
  // vacuum shrank keeps its new length.
  expect(content(ids.full).some((e) => e.path === doomedFile)).toBe(true);
  expect(c1.some((e) => e.path === doomedFile)).toBe(false);
  const shrunk = c1.find((e) => e.path === shrinkingFile)!;
  expect(shrunk.nBlocks).toBeLessThan(content(ids.full).find((e) => e.path === shrinkingFile)!.nBlocks!);
  // The new table is stored whole.
  const t1 = c1.find((e) => e.path === t1File)!;
  expect(t1.nHeaders).toBe(t1.nBlocks);
});

test('validate checks every backup of the chain', async () => {
  const r = await cliOk(['validate', '--instance', 'node', '-j', '2'], env);
  expect(r.stderr).toMatch(/INFO: All backups are valid/);
  const one = await cliOk(['validate', '--instance', 'node', '-i', ids.delta2], env);
  expect(one.stderr).toMatch(new RegExp(`INFO: Backup ${ids.delta2} is valid`));
});

/** Restores `id` into a new directory: pg_dump equals the source's at backup time, pg_amcheck and pg_checksums are clean. */
async function expectRestoreEquals(id: string): Promise<void> {
  const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'inc-r-')), 'data');
  work.push(path.dirname(target));
  const r = await cliOk(['restore', '--instance', 'node', '-D', target, '-i', id, '-j', '2'], env);
  expect(r.stderr).toMatch(new RegExp(`INFO: Restore of backup ${id} completed`));
  const srv = await startRestored(target);
  try {
    expect(await dump(srv.sock, srv.port)).toEqual(dumps[id]);
    const amcheck = await run(pgBin('pg_amcheck'), ['-h', srv.sock, '-p', String(srv.port), '--install-missing', '--all']);
    expect(amcheck.stdout + amcheck.stderr).toBe('');
  } finally {
    await srv.stop();
  }
  const checksums = await run(pgBin('pg_checksums'), ['--check', '-D', target]);
  expect(checksums.stderr).toBe('');
  expect(checksums.code).toBe(0);
  fs.rmSync(path.dirname(target), { recursive: true, force: true });
}

test('each backup of the chain restores to the data it was taken of', async () => {
  await expectRestoreEquals(ids.delta2);
  await expectRestoreEquals(ids.delta1);
  await expectRestoreEquals(ids.full);
});

describe('damaged chains', () => {
  const status = (id: string) => statusOf(dir(id));

  test('a corrupt FULL backup: validate makes it CORRUPT and its descendants ORPHAN; restore of a DELTA refuses naming it; repaired, all are OK again', async () => {
    const f = path.join(dir(ids.full), 'database', 'PG_VERSION');
    fs.renameSync(f, `${f}.away`);
    try {
      const v = await runCli(['validate', '--instance', 'node'], env);
      expect(v.code).toBe(1);
      expect(v.stderr).toMatch(new RegExp(`WARNING: Backup ${ids.delta1} is orphaned because his parent ${ids.full} has status: CORRUPT`));
      expect(v.stderr).toMatch(new RegExp(`WARNING: Backup ${ids.delta2} is orphaned because his parent ${ids.full} has status: CORRUPT`));
      expect([status(ids.full), status(ids.delta1), status(ids.delta2)]).toEqual(['CORRUPT', 'ORPHAN', 'ORPHAN']);
      const target = path.join(path.dirname(backupPath), 'refused');
      const r = await runCli(['restore', '--instance', 'node', '-D', target, '-i', ids.delta2, '--force'], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`ERROR: Backup ${ids.delta2} is orphan: its parent ${ids.full} is corrupt: file ".*PG_VERSION" is missing`));
      const vi = await runCli(['validate', '--instance', 'node', '-i', ids.delta1], env);
      expect(vi.code).toBe(1);
      expect(vi.stderr).toMatch(new RegExp(`ERROR: Backup ${ids.delta1} is orphan: its parent ${ids.full} has status: CORRUPT`));
    } finally {
      fs.renameSync(`${f}.away`, f);
    }
    const ok = await cliOk(['validate', '--instance', 'node'], env);
    expect(ok.stderr).toMatch(/INFO: All backups are valid/);
    expect([status(ids.full), status(ids.delta1), status(ids.delta2)]).toEqual(['OK', 'OK', 'OK']);
  });

  test('a missing DELTA in the middle: restore of its descendant refuses naming it and orphans the descendant', async () => {
    const away = `${dir(ids.delta1)}.away`;
    fs.renameSync(dir(ids.delta1), away);
    try {
      const target = path.join(path.dirname(backupPath), 'refused2');
      const r = await runCli(['restore', '--instance', 'node', '-D', target, '-i', ids.delta2], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`ERROR: Backup ${ids.delta2} cannot be restored: its chain is broken, backup ${ids.delta1} \\(the parent of ${ids.delta2}\\) is missing from the catalog`));
      expect(fs.existsSync(target)).toBe(false);
      expect(status(ids.delta2)).toBe('ORPHAN');
    } finally {
      fs.renameSync(away, dir(ids.delta1));
    }
    await cliOk(['validate', '--instance', 'node', '-i', ids.delta2], env);
    expect(status(ids.delta2)).toBe('OK');
  });
});
