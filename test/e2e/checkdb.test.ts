/**
 * checkdb through the real CLI on a real PostgreSQL 15 (pg_probackup's): pages of a running
 * cluster verified as a backup verifies them, and its B-tree indexes with amcheck. Corruption is
 * made on disk while the server is stopped; pg_checksums, PostgreSQL's own tool, says what is
 * wrong with the same block.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../helpers/cli';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 1 });
  await cluster.psql('checkpoint');
});

afterAll(async () => {
  await cluster?.destroy();
});

const checkdb = (args: string[]) => runCli(['checkdb', ...args], cluster.env);

/** Flips bytes inside block `block` of a relation's file while the server is stopped; gives back a restore of it. */
async function corrupt(relation: string, block: number): Promise<{ file: string; undo: () => Promise<void> }> {
  const rel = await cluster.psql(`select pg_relation_filepath('${relation}')`);
  const file = path.join(cluster.pgdata, rel);
  await cluster.stop();
  const original = fs.readFileSync(file);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(16, 0x5a), 0, 16, block * 8192 + 4000);
  fs.closeSync(fd);
  return {
    file,
    undo: async () => {
      await cluster.stop();
      fs.writeFileSync(file, original);
      await cluster.start();
    },
  };
}

test('a sound cluster: every data file checked, and valid', async () => {
  const r = await checkdb(['-D', cluster.pgdata, '-j', '2', '--progress']);
  expect(r.stderr).toMatch(/INFO: Start checking data files\n/);
  expect(r.stderr).toMatch(/INFO: Progress: \(\d+\/\d+\)\. Process file "base\/\d+\/\d+"/);
  expect(r.stderr).toMatch(/INFO: Data files are valid\n$/);
  expect(r.code).toBe(0);
  const n = Number(/Progress: \((\d+)\/(\d+)\)/.exec(r.stderr)![2]);
  // As many files as PostgreSQL has relation files (pg_class's, plus forks and segments): at least one per table.
  expect(n).toBeGreaterThan(Number(await cluster.psql("select count(*) from pg_class where relkind in ('r','i') and relpersistence = 'p'")));
});

test('a corrupt page is named with its block and checksums, as pg_checksums names it', async () => {
  const c = await corrupt('pgbench_accounts', 3);
  const oracle = await run(pgBin('pg_checksums'), ['--check', '-D', cluster.pgdata]);
  await cluster.start();
  try {
    const m = /checksum verification failed in file "(.+)", block (\d+): calculated checksum ([0-9A-F]+) but block contains ([0-9A-F]+)/.exec(oracle.stderr)!;
    expect(m).not.toBeNull();
    expect([path.resolve(m[1]), m[2]]).toEqual([c.file, '3']);
    const r = await checkdb(['-D', cluster.pgdata, '-j', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`WARNING: Corruption detected in file "${c.file}", block 3: page verification failed, calculated checksum ${parseInt(m[3], 16)} but expected ${parseInt(m[4], 16)}\n`);
    expect(r.stderr).toMatch(/ERROR: Checkdb failed\n$/);
  } finally {
    await c.undo();
  }
  expect((await checkdb(['-D', cluster.pgdata])).code).toBe(0);
});

test('--amcheck checks every B-tree index of every database with amcheck, and says which databases lack it', async () => {
  await cluster.psql('create extension if not exists amcheck');
  const indexes = (await cluster.psql("select schemaname || '.' || indexname from pg_indexes where tablename like 'pgbench%' order by 1")).split('\n');
  const r = await checkdb(['--amcheck', '--skip-block-validation', '--heapallindexed', '-j', '2', '--log-level-console=log']);
  expect(r.stderr).toMatch(/INFO: Amchecking database 'postgres' using extension 'amcheck' version \S+ from schema 'public'/);
  for (const ix of indexes) expect(r.stderr).toMatch(new RegExp(`LOG: Thread \\[\\d\\]\\. Amcheck succeeded in database 'postgres' for index: '${ix.replace('.', '\\.')}'`));
  expect(r.stderr).toMatch(/INFO: checkdb --amcheck finished successfully\. All checked indexes are valid\.\nINFO: All databases were amchecked\.\n$/);
  expect(r.code).toBe(0);

  await cluster.psql('create database other');
  const skipped = await checkdb(['--amcheck', '--skip-block-validation']);
  expect(skipped.stderr).toContain("WARNING: Extension 'amcheck' or 'amcheck_next' are not installed in database other");
  expect(skipped.stderr).toMatch(/ERROR: Some databases were not amchecked\.\n$/);
  expect(skipped.code).toBe(1);
  await cluster.psql('drop database other');
});

test('--amcheck reports an index it finds damaged, with PostgreSQL\'s own error', async () => {
  const c = await corrupt('pgbench_accounts_pkey', 2);
  await cluster.start();
  try {
    const r = await checkdb(['--amcheck', '--skip-block-validation']);
    expect(r.stderr).toMatch(/WARNING: Thread \[1\]\. Amcheck failed in database 'postgres' for index: 'public\.pgbench_accounts_pkey': .*(checksum|invalid page|corrupt)/);
    expect(r.stderr).toMatch(/WARNING: Amcheck failed for database 'postgres'/);
    expect(r.stderr).toMatch(/ERROR: checkdb --amcheck finished with failure\. Not all checked indexes are valid\. All databases were amchecked\.\n$/);
    expect(r.code).toBe(1);
  } finally {
    await c.undo();
  }
});

test('the data directory must be the cluster the connection reaches', async () => {
  const other = await createCluster({ start: false });
  try {
    const r = await checkdb(['-D', other.pgdata]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`ERROR: data directory "${other.pgdata}" \\(system identifier \\d+\\) is not the cluster the connection reaches \\(system identifier \\d+\\): check -D and -h/-p`));
  } finally {
    await other.destroy();
  }
});
