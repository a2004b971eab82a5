/**
 * restore -R through the real CLI, on a real PostgreSQL 15: the restored cluster starts as a
 * standby of the backed-up one and streams from it. The oracle is PostgreSQL's own view of it:
 * pg_is_in_recovery() on the standby, pg_stat_replication and pg_replication_slots on the primary,
 * and a row written on the primary after the backup showing up on the standby.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseBackupControl } from '../../core/backupControl';
import { catalogWithInstance, cliOk, fullBackup, runCli } from '../helpers/cli';
import { startRestored, waitFor } from '../helpers/durability';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;
let backupPath: string;
let env: Record<string, string>;
let backupId = '';
const work: string[] = [];

beforeAll(async () => {
  // The standbys stream from the backup's end on: the primary keeps that WAL while they come.
  cluster = await createCluster({ pgbenchScale: 1, conf: { wal_keep_size: "'256MB'" } });
  const c = await catalogWithInstance(cluster, 'replica-');
  work.push(c.root);
  ({ backupPath, env } = c);
  backupId = await fullBackup(env);
});

afterAll(async () => {
  await cluster?.destroy();
  for (const d of work) fs.rmSync(d, { recursive: true, force: true });
});

function target(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'standby-'));
  work.push(d);
  return path.join(d, 'data');
}

async function psqlAt(sock: string, port: number, sql: string): Promise<string> {
  const r = await run(pgBin('psql'), ['-XAtq', '-h', sock, '-p', String(port), '-d', 'postgres', '-c', sql]);
  if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

/** Starts the restored standby and checks it follows the primary: a row written now reaches it. */
async function expectStreaming(pgdata: string, mark: string, check: () => Promise<void>): Promise<void> {
  const srv = await startRestored(pgdata);
  try {
    expect(await psqlAt(srv.sock, srv.port, 'select pg_is_in_recovery()')).toBe('t');
    await cluster.psql(`create table ${mark} as select 42 as x`);
    await waitFor(`${mark} on the standby`, async () => (await psqlAt(srv.sock, srv.port, `select to_regclass('${mark}') is not null`)) === 't', 60_000, 200);
    expect(await psqlAt(srv.sock, srv.port, `select x from ${mark}`)).toBe('42');
    await check();
  } finally {
    await srv.stop();
  }
}

test('the backup records its connection; restore -R makes a standby that streams from it', async () => {
  const control = parseBackupControl(fs.readFileSync(path.join(backupPath, 'backups', 'node', backupId, 'backup.control'), 'utf8'), backupId);
  expect(control.primaryConninfo).toBe(`user=${os.userInfo().username} host=${cluster.socketDir} port=${cluster.port} sslmode=prefer`);

  const pgdata = target();
  const r = await cliOk(['restore', '--instance', 'node', '-D', pgdata, '-i', backupId, '-R'], env);
  expect(r.stderr).toMatch(new RegExp(`INFO: Restore of backup ${backupId} completed`));
  expect(r.stderr).not.toMatch(/WARNING/);
  const auto = fs.readFileSync(path.join(pgdata, 'postgresql.auto.conf'), 'utf8');
  expect(auto).toContain(`## standby settings\nprimary_conninfo = '${control.primaryConninfo}'\n`);
  expect(auto).not.toContain('primary_slot_name');
  expect(fs.existsSync(path.join(pgdata, 'standby.signal'))).toBe(true);
  expect(fs.existsSync(path.join(pgdata, 'recovery.signal'))).toBe(false);

  await expectStreaming(pgdata, 'after_backup_1', async () => {
    expect(await cluster.psql("select count(*) from pg_stat_replication where state = 'streaming'")).toBe('1');
  });
});

test('-S names a slot on the primary and implies -R; --primary-conninfo replaces the recorded connection', async () => {
  await cluster.psql("select pg_create_physical_replication_slot('standby_one')");
  const pgdata = target();
  const conninfo = `host=${cluster.socketDir} port=${cluster.port} user=${os.userInfo().username} application_name='standby one'`;
  await cliOk(['restore', '--instance', 'node', '-D', pgdata, '-i', backupId, '-S', 'standby_one', '--primary-conninfo', conninfo], env);
  const auto = fs.readFileSync(path.join(pgdata, 'postgresql.auto.conf'), 'utf8');
  // postgresql.conf doubles a quote inside a quoted value.
  expect(auto).toContain(`primary_conninfo = '${conninfo.replace(/'/g, "''")}'\nprimary_slot_name = 'standby_one'\n`);
  expect(fs.existsSync(path.join(pgdata, 'standby.signal'))).toBe(true);

  await expectStreaming(pgdata, 'after_backup_2', async () => {
    expect(await cluster.psql("select active from pg_replication_slots where slot_name = 'standby_one'")).toBe('t');
    expect(await cluster.psql("select application_name from pg_stat_replication where state = 'streaming'")).toBe('standby one');
  });
  await cluster.psql("select pg_drop_replication_slot('standby_one')");
});

test('--primary-conninfo without -R is ignored with a warning: a plain restore', async () => {
  const pgdata = target();
  const r = await runCli(['restore', '--instance', 'node', '-D', pgdata, '-i', backupId, '--primary-conninfo', 'host=elsewhere'], env);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/WARNING: --primary-conninfo is ignored without -R\/--restore-as-replica/);
  expect(fs.existsSync(path.join(pgdata, 'standby.signal'))).toBe(false);
  expect(fs.readFileSync(path.join(pgdata, 'postgresql.auto.conf'), 'utf8')).not.toContain('primary_conninfo');
});
