/**
 * stopInfo on real WAL against pg_waldump: every COMMIT, ABORT, COMMIT_PREPARED, ABORT_PREPARED
 * (with subtransactions, dropped relations, invalidations, dropped statistics) and RESTORE_POINT
 * record has the xid, time and name pg_waldump prints, across an XLOG_SWITCH to the next segment.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lsnToBigInt, parseLsn, walFileName } from '../../core/lsn';
import { stopInfo } from '../../core/recoveryTarget';
import { readWalRecords, type PageSource } from '../../core/walRecord';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(120_000);

const SEG = 16 * 1024 * 1024;
let cluster: PgCluster;
let start: string;
let end: string;

beforeAll(async () => {
  cluster = await createCluster({ conf: { max_prepared_transactions: 5 } });
  start = await cluster.psql('select pg_current_wal_insert_lsn()');
  await cluster.psql(`
    create table a (i int); insert into a values (1);
    begin; create table b (i int); savepoint s; insert into b values (1); savepoint s2; insert into b values (2); commit;
    begin; insert into a values (2); rollback;
    begin; create table c (i int); insert into c values (1); rollback;
    select pg_create_restore_point('first point'); select pg_switch_wal();
    begin; savepoint s; insert into a values (3); drop table b; prepare transaction 'p1';
    commit prepared 'p1';
    begin; create table d (i int); savepoint s; insert into d values (1); prepare transaction 'p2';
    rollback prepared 'p2';
    select pg_create_restore_point('second, with a comma');
    create table e (i int); insert into e values (1); drop table e;`);
  end = await cluster.psql('select pg_current_wal_insert_lsn()');
});

afterAll(async () => cluster?.destroy());

function pageSource(walDir: string): PageSource {
  const segs = new Map<bigint, Buffer | null>();
  return (pageLsn) => {
    const segNo = pageLsn / BigInt(SEG);
    if (!segs.has(segNo)) {
      const f = path.join(walDir, walFileName(1, segNo, SEG));
      segs.set(segNo, fs.existsSync(f) ? fs.readFileSync(f) : null);
    }
    const seg = segs.get(segNo);
    if (!seg) return null;
    const off = Number(pageLsn % BigInt(SEG));
    return seg.subarray(off, off + 8192);
  };
}

/** pg_waldump's timestamptz_to_str with TZ=UTC: `2024-05-02 11:19:37.123456 UTC`. */
function pgTime(t: bigint): string {
  const unixUs = t + 946_684_800_000_000n;
  const d = new Date(Number(unixUs / 1000n));
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}.${String(unixUs % 1_000_000n).padStart(6, '0')} UTC`;
}

test('transaction ends and restore points decode as pg_waldump prints them', async () => {
  const walDir = path.join(cluster.pgdata, 'pg_wal');
  const dump = await run(pgBin('pg_waldump'), ['-p', walDir, '-s', start, '-e', end], { env: { TZ: 'UTC' } });
  const expected: string[] = [];
  for (const line of dump.stdout.split('\n')) {
    const m = /tx:\s+(\d+), lsn: (\S+),.*desc: (COMMIT|ABORT|COMMIT_PREPARED|ABORT_PREPARED|RESTORE_POINT) (.*)$/.exec(line);
    if (!m) continue;
    const lsn = lsnToBigInt(parseLsn(m[2])).toString(16);
    if (m[3] === 'RESTORE_POINT') {
      expected.push(`${lsn} point '${m[4]}'`);
      continue;
    }
    // "[twophase xid: ]timestamp[; ...]"
    const d = /^(?:(\d+): )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} UTC)/.exec(m[4])!;
    expected.push(`${lsn} ${m[3].startsWith('COMMIT') ? 'commit' : 'abort'} ${d[1] ?? m[1]} ${d[2]}`);
  }
  expect(expected.filter((e) => e.includes('PREPARED') || /commit|abort/.test(e)).length).toBeGreaterThanOrEqual(6);
  expect(dump.stdout).toMatch(/COMMIT_PREPARED/);
  expect(dump.stdout).toMatch(/ABORT_PREPARED/);
  const got: string[] = [];
  for (const rec of readWalRecords(pageSource(walDir), lsnToBigInt(parseLsn(start)), lsnToBigInt(parseLsn(end)))) {
    const s = stopInfo(rec);
    if (!s) continue;
    const lsn = rec.lsn.toString(16);
    got.push(s.kind === 'restore-point' ? `${lsn} point '${s.name}'` : `${lsn} ${s.commit ? 'commit' : 'abort'} ${s.xid} ${pgTime(s.time)}`);
  }
  expect(got).toEqual(expected);
  expect(got.filter((g) => g.includes('point'))).toHaveLength(2);
});
