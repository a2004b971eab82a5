/**
 * The WAL reader against pg_waldump: the same records, at the same LSNs, touching the same blocks
 * (relation, fork, block), over WAL from real pgbench traffic and DDL, across page and segment ends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FORK_NAMES, readWalRecords, type PageSource } from '../../core/walRecord';
import { lsnToBigInt, parseLsn, walFileName } from '../../core/lsn';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(180_000);

const SEG = 16 * 1024 * 1024;
let cluster: PgCluster;
let start: string;
let end: string;

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 1, conf: { wal_compression: 'pglz' } });
  start = await cluster.psql('select pg_current_wal_insert_lsn()');
  await cluster.psql(`create table t (id int primary key, v text); insert into t select g, repeat('x', g % 500) from generate_series(1, 20000) g;
    create index on t (v); vacuum t; truncate t; checkpoint;`);
  const r = await run(pgBin('pgbench'), ['-n', '-c', '2', '-t', '300', '-h', cluster.socketDir, '-p', String(cluster.port), 'postgres']);
  if (r.code !== 0) throw new Error(r.stderr);
  end = await cluster.psql('select pg_current_wal_insert_lsn()');
  await cluster.psql('select pg_switch_wal()');
});

afterAll(async () => cluster?.destroy());

function pageSource(walDir: string): PageSource {
  const cache = new Map<bigint, Buffer | null>();
  return (pageLsn) => {
    const segNo = pageLsn / BigInt(SEG);
    if (!cache.has(segNo)) {
      const f = path.join(walDir, walFileName(1, segNo, SEG));
      cache.clear();
      cache.set(segNo, fs.existsSync(f) ? fs.readFileSync(f) : null);
    }
    const seg = cache.get(segNo);
    if (!seg) return null;
    const off = Number(pageLsn % BigInt(SEG));
    return seg.subarray(off, off + 8192);
  };
}

test('records and block references equal pg_waldump', async () => {
  const walDir = path.join(cluster.pgdata, 'pg_wal');
  const dump = await run(pgBin('pg_waldump'), ['-p', walDir, '-s', start, '-e', end]);
  const expected: string[] = [];
  for (const line of dump.stdout.split('\n')) {
    const m = /lsn: (\S+),/.exec(line);
    if (!m) continue;
    const refs = [...line.matchAll(/blkref #\d+: rel (\d+)\/(\d+)\/(\d+)(?: fork (\w+))? blk (\d+)/g)].map(
      (b) => `${b[1]}/${b[2]}/${b[3]}:${b[4] ?? 'main'}:${b[5]}`,
    );
    expected.push(`${lsnToBigInt(parseLsn(m[1])).toString(16)} ${refs.join(',')}`);
  }
  expect(expected.length).toBeGreaterThan(1000);
  const got: string[] = [];
  for (const r of readWalRecords(pageSource(walDir), lsnToBigInt(parseLsn(start)), lsnToBigInt(parseLsn(end)))) {
    got.push(`${r.lsn.toString(16)} ${r.blocks.map((b) => `${b.spc}/${b.db}/${b.rel}:${FORK_NAMES[b.fork]}:${b.blk}`).join(',')}`);
  }
  expect(got).toEqual(expected);
});

test('stops at the end of the available WAL', () => {
  const walDir = path.join(cluster.pgdata, 'pg_wal');
  const far = lsnToBigInt(parseLsn(end)) + BigInt(SEG) * 4n;
  let n = 0;
  for (const r of readWalRecords(pageSource(walDir), lsnToBigInt(parseLsn(end)), far)) n += r.totLen > 0 ? 1 : 0;
  expect(n).toBeLessThan(50); // only the switch and what the server wrote since
});
