/**
 * Block verification during backup: a data page whose checksum is wrong fails the backup with a
 * message naming the file, the block and both checksums (pg_checksums agrees it is corrupt);
 * --skip-block-validation takes the backup anyway.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliOk, runCli } from '../helpers/cli';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(300_000);

let cluster: PgCluster;
let env: Record<string, string>;
let relFile: string;

beforeAll(async () => {
  cluster = await createCluster({});
  await cluster.psql(`create table victim as select g, md5(g::text) as v from generate_series(1, 2000) g; checkpoint;`);
  relFile = await cluster.psql(`select pg_relation_filepath('victim')`);
  await cluster.stop();
  const f = path.join(cluster.pgdata, relFile);
  const buf = fs.readFileSync(f);
  buf[8192 + 5000] ^= 0x10; // block 1, inside the tuples
  fs.writeFileSync(f, buf);
  const check = await run(pgBin('pg_checksums'), ['--check', '-D', cluster.pgdata]);
  expect(check.code).not.toBe(0);
  expect(check.stderr).toMatch(/checksum verification failed/);
  await cluster.start();
  const backupPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'blk-')), 'catalog');
  env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'b', '-D', cluster.pgdata], env);
});

afterAll(async () => {
  await cluster?.destroy();
  fs.rmSync(path.dirname(env.BACKUP_PATH), { recursive: true, force: true });
});

test('a corrupt page fails the backup naming file, block and checksums; the backup is ERROR', async () => {
  const r = await runCli(['backup', '--instance', 'b', '-b', 'FULL', '--stream'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`Corruption detected in file "${cluster.pgdata}/${relFile}", block 1: page verification failed, calculated checksum \\d+ but expected \\d+`));
  const show = JSON.parse((await cliOk(['show', '--instance', 'b', '--format=json'], env)).stdout);
  expect(show[0].backups[0].status).toBe('ERROR');
  expect(Number(await cluster.psql(`select count(*) from pg_replication_slots`))).toBe(0);
});

test('--skip-block-validation takes the backup anyway', async () => {
  const r = await runCli(['backup', '--instance', 'b', '-b', 'FULL', '--stream', '--skip-block-validation', '--no-validate'], env);
  if (r.code !== 0) throw new Error(r.stderr);
  expect(r.stderr).toMatch(/INFO: Backup \w+ completed/);
});
