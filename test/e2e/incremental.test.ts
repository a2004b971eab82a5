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
import { backupIds, dump, killHard, newBackupDir, startCli, startRestored, stateFile, statusOf, waitFor } from '../helpers/durability';
import { pathKey } from '../../core/workflowIds';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;
let backupPath: string;
let env: Record<string, string>;
const work: string[] = [];
/** Backup IDs and the dump of the quiet source taken right after each backup. */
const ids: Record<'full' | 'delta1' | 'delta2' | 'delta3' | 'delta4', string> = { full: '', delta1: '', delta2: '', delta3: '', delta4: '' };
const dumps: Record<string, string> = {};

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 1 });
  backupPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'inc-')), 'catalog');
  work.push(path.dirname(backupPath));
  env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'node', '-D', cluster.pgdata], env);
  // Vacuumed: hint bits set now, not by the first pg_dump after the FULL backup (that would change every page).
  await cluster.psql(`create table doomed as select g from generate_series(1, 20000) g; create table shrinking as select g from generate_series(1, 20000) g; vacuum doomed, shrinking`);
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
    delete from shrinking where g > 5000; vacuum shrinking;`);
  const t1File = await relPath('t1');
  ids.delta1 = await backup('DELTA');
  // Round 2: more changes, a table rewritten (new file), another one grows.
  await cluster.psql(`update pgbench_accounts set abalance = abalance - 7 where aid between 60000 and 62000;
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

  // Stored bytes: a DELTA holds the changed pages, a small part of the FULL. Non-data files (the
  // free space maps of every catalog, pg_xact, configuration) are copied whole: they are most of
  // a DELTA of a cluster this small, so the data files are also compared alone.
  const full = byId(ids.full)['data-bytes'] as number;
  const d1 = byId(ids.delta1)['data-bytes'] as number;
  const d2 = byId(ids.delta2)['data-bytes'] as number;
  const pages = (id: string) => content(id).filter((e) => e.isDatafile && e.size > 0).reduce((s, e) => s + e.size, 0);
  process.stdout.write(`data-bytes: FULL ${full}, DELTA ${d1}, DELTA ${d2}; data files: ${pages(ids.full)}, ${pages(ids.delta1)}, ${pages(ids.delta2)}\n`);
  expect(d1 * 3).toBeLessThan(full);
  expect(d2 * 3).toBeLessThan(full);
  expect(pages(ids.delta1) * 8).toBeLessThan(pages(ids.full));
  expect(pages(ids.delta2) * 8).toBeLessThan(pages(ids.full));

  const c1 = content(ids.delta1);
  // Unchanged data files are "look in the parent" (-1) and have no file in the backup.
  const unchanged = c1.filter((e) => e.isDatafile && e.size === -1);
  expect(unchanged.length).toBeGreaterThan(10);
  for (const e of unchanged.slice(0, 5)) expect(fs.existsSync(path.join(dir(ids.delta1), 'database', e.path))).toBe(false);
  // A changed file holds its changed pages only; every entry knows the file's length.
  const accountsFile = await relPath('pgbench_accounts');
  const accEntry = c1.find((e) => e.path === accountsFile)!;
  expect(accEntry.nBlocks).toBeGreaterThan(1600);
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

test('validate -i of a DELTA checks its chain, FULL first', async () => {
  const one = await cliOk(['validate', '--instance', 'node', '-i', ids.delta2, '-j', '2'], env);
  const order = [ids.full, ids.delta1, ids.delta2].map((id) => one.stderr.indexOf(`INFO: Backup ${id} data files are valid`));
  expect(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]))).toBe(true);
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
      const v = await runCli(['validate', '--instance', 'node', '-j', '2'], env);
      expect(v.code).toBe(1);
      expect(v.stderr).toMatch(new RegExp(`WARNING: Backup ${ids.delta1} is orphaned because his parent ${ids.full} has status: CORRUPT`));
      expect(v.stderr).toMatch(new RegExp(`WARNING: Backup ${ids.delta2} is orphaned because his parent ${ids.full} has status: CORRUPT`));
      expect([status(ids.full), status(ids.delta1), status(ids.delta2)]).toEqual(['CORRUPT', 'ORPHAN', 'ORPHAN']);
      const target = path.join(path.dirname(backupPath), 'refused');
      const r = await runCli(['restore', '--instance', 'node', '-D', target, '-i', ids.delta2, '--force'], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`ERROR: Backup ${ids.delta2} is orphan: its parent ${ids.full} is corrupt: file ".*PG_VERSION" is missing`));
      expect(fs.existsSync(target)).toBe(false); // the layout made before the chain was validated is taken back
      const vi = await runCli(['validate', '--instance', 'node', '-i', ids.delta1, '-j', '2'], env);
      expect(vi.code).toBe(1);
      expect(vi.stderr).toMatch(new RegExp(`ERROR: Backup ${ids.delta1} is orphan: its parent ${ids.full} has status: CORRUPT`));
    } finally {
      fs.renameSync(`${f}.away`, f);
    }
    const ok = await cliOk(['validate', '--instance', 'node', '-j', '2'], env);
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

describe('merge', () => {
  test('merge -i of the newest DELTA: one FULL backup with its ID, the intermediates gone; it restores to the same data', async () => {
    const r = await cliOk(['merge', '--instance', 'node', '-i', ids.delta2, '-j', '2'], env);
    expect(r.stderr).toMatch(/INFO: Merge started/);
    expect(r.stderr).toMatch(new RegExp(`INFO: Merging backup ${ids.delta2} with parent chain`));
    expect(r.stderr).toMatch(new RegExp(`INFO: Rename merged full backup ${ids.full} to ${ids.delta2}`));
    expect(r.stderr).toMatch(new RegExp(`INFO: Merge of backup ${ids.delta2} completed`));
    const show = await showJson();
    expect(show.map((b) => b.id)).toEqual([ids.delta2]);
    expect(show[0]).toMatchObject({ 'backup-mode': 'FULL', status: 'OK', 'parent-tli': 0 });
    expect(show[0]['parent-backup-id']).toBeUndefined();
    expect(fs.existsSync(dir(ids.full))).toBe(false);
    expect(fs.existsSync(dir(ids.delta1))).toBe(false);
    const c = content(ids.delta2);
    expect(c.some((e) => e.size === -1)).toBe(false);
    expect(c.filter((e) => e.isDatafile && e.size > 0).every((e) => e.nHeaders === e.nBlocks)).toBe(true);
    expect(fs.existsSync(path.join(dir(ids.delta2), '.gs_probackup'))).toBe(false);
    await expectRestoreEquals(ids.delta2);
  });

  test('a merge is refused while a restore reads its chain, naming the restore workflow', async () => {
    // A new chain on the merged FULL backup: FULL → DELTA → DELTA.
    await cluster.psql(`update pgbench_accounts set abalance = abalance + 3 where aid between 80000 and 81000; create table t3 as select g from generate_series(1, 5000) g`);
    ids.delta3 = await backup('DELTA');
    await cluster.psql(`update pgbench_accounts set abalance = abalance + 4 where aid between 40000 and 42000; insert into t3 select g from generate_series(1, 5000) g`);
    ids.delta4 = await backup('DELTA');
    expect((await showJson()).find((b) => b.id === ids.delta3)!['parent-backup-id']).toBe(ids.delta2);

    const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'inc-rr-')), 'data');
    work.push(path.dirname(target));
    const restore = startCli(['restore', '--instance', 'node', '-D', target, '-i', ids.delta4, '-j', '1'], env);
    // Stopped as soon as it has made the target directory, which it does once it has chosen its
    // chain and before it validates or copies: its log lines come a second late (the progress
    // query's interval), by when a restore this small may be over. Whether its history records the
    // chain yet or not, it holds the chain's backups.
    await waitFor('the restore to create its target', () => fs.existsSync(target), 120_000, 2);
    restore.child.kill('SIGSTOP');
    try {
      const r = await runCli(['merge', '--instance', 'node', '-i', ids.delta3], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`ERROR: cannot merge backup ${ids.delta3}: a running restore (reads or writes it|may still choose it): workflow restore/node/${pathKey(target)} \\(run [\\w-]+\\)`));
      expect([statusOf(dir(ids.delta2)), statusOf(dir(ids.delta3))]).toEqual(['OK', 'OK']);
    } finally {
      restore.child.kill('SIGCONT');
    }
    expect(await restore.done).toBe(0);
    const srv = await startRestored(target);
    try {
      expect(await dump(srv.sock, srv.port)).toEqual(dumps[ids.delta4]);
    } finally {
      await srv.stop();
    }
  });

  test('a merge killed (SIGKILL) half way and run again completes; meanwhile delete and restore of its chain are refused naming it; the result restores exactly', async () => {
    const fullDir = dir(ids.delta2);
    const state = path.join(fullDir, '.gs_probackup', 'merge');
    const cmd = ['merge', '--instance', 'node', '-i', ids.delta4, '-j', '1'];
    const wid = `merge/node/${ids.delta4}`;
    const first = startCli(cmd, env);
    await waitFor('a merged batch', () => fs.existsSync(path.join(state, 'batches', '0.json')), 180_000, 5);
    first.child.kill('SIGSTOP');
    const done = fs.readdirSync(path.join(state, 'batches')).filter((f) => f.endsWith('.json')).length;
    const planned = (JSON.parse(fs.readFileSync(path.join(state, 'plan.json'), 'utf8')) as { batches: unknown[] }).batches.length;
    process.stdout.write(`merge stopped after ${done} of ${planned} batches\n`);
    expect(done).toBeLessThan(planned);
    expect([statusOf(fullDir), statusOf(dir(ids.delta3)), statusOf(dir(ids.delta4))]).toEqual(['MERGING', 'MERGING', 'MERGING']);
    const del = await runCli(['delete', '--instance', 'node', '-i', ids.delta3], env);
    expect(del.code).toBe(1);
    expect(del.stderr).toMatch(new RegExp(`ERROR: cannot delete backup ${ids.delta3}: a running merge reads or writes it: workflow ${wid} \\(run [\\w-]+\\)`));
    const target = path.join(path.dirname(backupPath), 'refused3');
    const res = await runCli(['restore', '--instance', 'node', '-D', target, '-i', ids.delta4], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`ERROR: cannot restore backup ${ids.delta4}: a running merge reads or writes it: workflow ${wid}`));
    expect(fs.existsSync(target)).toBe(false);
    await killHard(first);

    // Run again: it follows the same workflow; killed once more once the merge is committed.
    const second = startCli(cmd, env);
    await waitFor('the merge to commit', () => fs.existsSync(path.join(state, 'commit.json')) || statusOf(fullDir) !== 'MERGING' || second.child.exitCode !== null, 180_000, 2);
    second.child.kill('SIGKILL');
    const secondCode = await second.done;
    process.stdout.write(`second run ${secondCode === 0 ? 'ended before it could be killed' : `killed with the FULL backup ${fs.existsSync(fullDir) ? statusOf(fullDir) : 'renamed'}, destination ${statusOf(dir(ids.delta4))}`}\n`);
    expect(second.out()).toMatch(new RegExp(`workflow ${wid} \\(run [\\w-]+\\) is already running: following it`));
    const finished = secondCode === 0 ? second.out() : (await runCli(cmd, env)).stderr;
    if (!/Merge of backup \w+ completed/.test(finished)) throw new Error(`${second.out()}\n---\n${finished}`);
    expect(finished).toMatch(new RegExp(`INFO: Merge of backup ${ids.delta4} completed`));
    const show = await showJson();
    expect(show.map((b) => [b.id, b['backup-mode'], b.status])).toEqual([[ids.delta4, 'FULL', 'OK']]);
    expect(fs.existsSync(fullDir)).toBe(false);
    expect(fs.existsSync(dir(ids.delta3))).toBe(false);
    await expectRestoreEquals(ids.delta4);
  });

  test('a DELTA killed (SIGKILL) while it copies, with pages changed before it runs again, ends OK and restores exactly', async () => {
    const cmd = ['backup', '--instance', 'node', '-b', 'DELTA', '--stream', '-j', '1', '-t', '5'];
    const before = backupIds(backupPath, 'node');
    const cli = startCli(cmd, env);
    let bdir: string | undefined;
    await waitFor('the DELTA to list its files', () => {
      bdir = newBackupDir(backupPath, 'node', before);
      return !!bdir && fs.existsSync(stateFile(bdir, 'plan.json'));
    }, 120_000, 5);
    await killHard(cli);
    expect(statusOf(bdir!)).toBe('RUNNING');
    // Changed between the sessions: the new one must not keep what the old one copied of them.
    await cluster.psql(`update pgbench_accounts set abalance = abalance + 9 where aid between 1 and 2000; insert into t3 select g from generate_series(1, 3000) g`);
    const again = await runCli(cmd, env);
    if (again.code !== 0) throw new Error(`${cli.out()}\n---\n${again.stderr}`);
    expect(again.stderr).toMatch(/is already running: following it/);
    expect(again.stderr).toMatch(/the backup session was lost and opened again/);
    process.stdout.write(`DELTA resumed: ${/Resumed under the new session: .*/.exec(again.stderr)?.[0]}\n`);
    const id = /INFO: Backup (\w+) completed/.exec(again.stderr)![1];
    expect(id).toBe(path.basename(bdir!));
    dumps[id] = await dump(cluster.socketDir, cluster.port);
    expect((await showJson()).find((b) => b.id === id)).toMatchObject({ 'backup-mode': 'DELTA', 'parent-backup-id': ids.delta4, status: 'OK' });
    await expectRestoreEquals(id);
  });
});
