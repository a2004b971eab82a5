/**
 * Partial restore through the real CLI on a real PostgreSQL 15 (pg_probackup's --db-include and
 * --db-exclude): the backup records its databases (database_map); a restore leaves the other
 * databases' files empty. The oracle is PostgreSQL: the restored cluster starts, the kept
 * databases hold their data (pg_dump equals the source's, pg_amcheck is clean), a left-out one
 * cannot be connected to and is dropped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { catalogWithInstance, cliOk, fullBackup, runCli } from '../helpers/cli';
import { startRestored } from '../helpers/durability';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;
let backupPath: string;
let env: Record<string, string>;
let backupId = '';
const dumps: Record<string, string> = {};
const work: string[] = [];

async function dumpDb(host: string, port: number, db: string): Promise<string> {
  const r = await run(pgBin('pg_dump'), ['-h', host, '-p', String(port), '--no-sync', '-d', db]);
  if (r.code !== 0) throw new Error(`pg_dump ${db}: ${r.stderr}`);
  return r.stdout.replace(/^\\(un)?restrict .*$/gm, '');
}

beforeAll(async () => {
  cluster = await createCluster();
  for (const db of ['sales', 'hr']) {
    await cluster.psql(`create database ${db}`);
    await cluster.psql(`create table t_${db} as select g, md5(g::text) as h from generate_series(1, 20000) g; create index on t_${db} (h)`, db);
  }
  for (const db of ['postgres', 'sales', 'hr']) dumps[db] = await dumpDb(cluster.socketDir, cluster.port, db);
  const c = await catalogWithInstance(cluster, 'partial-');
  work.push(c.root);
  ({ backupPath, env } = c);
  backupId = await fullBackup(env);
});

afterAll(async () => {
  await cluster?.destroy();
  for (const d of work) fs.rmSync(d, { recursive: true, force: true });
});

function target(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'partial-t-'));
  work.push(d);
  return path.join(d, 'data');
}

test('the backup records its databases by name and OID, without the templates, and a restore does not put the map in PGDATA', async () => {
  const map = fs.readFileSync(path.join(backupPath, 'backups', 'node', backupId, 'database', 'database_map'), 'utf8');
  const expected = (await cluster.psql("select oid, datname from pg_database where datname not in ('template0', 'template1') order by oid"))
    .split('\n')
    .map((l) => l.split('|'))
    .map(([oid, name]) => `{"dbOid":"${oid}", "datname":"${name}"}\n`)
    .join('');
  expect(map).toBe(expected);
  const content = fs.readFileSync(path.join(backupPath, 'backups', 'node', backupId, 'backup_content.control'), 'utf8');
  expect(content).toMatch(/"path":"database_map"/);
});

test('--db-exclude: the other databases are whole, the excluded one is empty and can be dropped', async () => {
  const pgdata = target();
  const r = await cliOk(['restore', '--instance', 'node', '-D', pgdata, '-i', backupId, '--db-exclude', 'hr', '-j', '2'], env);
  const hrOid = await cluster.psql("select oid from pg_database where datname = 'hr'");
  expect(r.stderr).toContain(`INFO: Partial restore: the files of the databases with OIDs ${hrOid} are left empty; drop those databases once the cluster is up`);
  expect(fs.existsSync(path.join(pgdata, 'database_map'))).toBe(false);
  const hrFiles = fs.readdirSync(path.join(pgdata, 'base', hrOid));
  expect(hrFiles.length).toBeGreaterThan(100);
  expect(hrFiles.every((f) => fs.statSync(path.join(pgdata, 'base', hrOid, f)).size === 0)).toBe(true);

  const srv = await startRestored(pgdata);
  try {
    for (const db of ['postgres', 'sales']) expect([db, await dumpDb(srv.sock, srv.port, db)]).toEqual([db, dumps[db]]);
    const amcheck = await run(pgBin('pg_amcheck'), ['-h', srv.sock, '-p', String(srv.port), '--install-missing', '-d', 'sales', '-d', 'postgres']);
    expect(amcheck.stdout + amcheck.stderr).toBe('');
    const hr = await run(pgBin('psql'), ['-XAtq', '-h', srv.sock, '-p', String(srv.port), '-d', 'hr', '-c', 'select count(*) from t_hr']);
    expect(hr.code).not.toBe(0);
    const drop = await run(pgBin('psql'), ['-XAtq', '-h', srv.sock, '-p', String(srv.port), '-d', 'postgres', '-c', 'drop database hr']);
    expect(drop.stderr).toBe('');
    expect(drop.code).toBe(0);
  } finally {
    await srv.stop();
  }
});

test('--db-include: only the named databases are restored', async () => {
  const pgdata = target();
  await cliOk(['restore', '--instance', 'node', '-D', pgdata, '-i', backupId, '--db-include', 'postgres', '--db-include', 'hr'], env);
  const salesOid = await cluster.psql("select oid from pg_database where datname = 'sales'");
  expect(fs.readdirSync(path.join(pgdata, 'base', salesOid)).every((f) => fs.statSync(path.join(pgdata, 'base', salesOid, f)).size === 0)).toBe(true);
  const srv = await startRestored(pgdata);
  try {
    expect(await dumpDb(srv.sock, srv.port, 'hr')).toEqual(dumps.hr);
  } finally {
    await srv.stop();
  }
});

test('a database the backup does not have, or a template, is refused before anything is written', async () => {
  for (const [opt, name, message] of [
    ['--db-include', 'nosuch', `ERROR: Failed to find a database 'nosuch' in database_map of backup ${backupId}`],
    ['--db-exclude', 'template1', "ERROR: Databases 'template0' and 'template1' cannot be used for partial restore or validation"],
  ]) {
    const pgdata = target();
    const r = await runCli(['restore', '--instance', 'node', '-D', pgdata, '-i', backupId, opt, name], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(fs.existsSync(pgdata)).toBe(false);
  }
});
