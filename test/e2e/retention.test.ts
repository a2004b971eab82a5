/**
 * Retention through the real CLI, on a real PostgreSQL 15 and the embedded Temporal server
 * (spec §10): delete --delete-expired / --merge-expired by window and by redundancy, --dry-run,
 * a pinned backup, backup --delete-expired, delete --status, a backup an open workflow uses, and a
 * Temporal Schedule running it on a worker.
 * The backups are taken now; their ages are set by rewriting recovery-time in backup.control, as
 * days passing would. What --merge-expired leaves must restore to the data of its newest backup
 * (pg_dump of the quiet source then, pg_amcheck).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseBackupControl, serializeBackupControl } from '../../core/backupControl';
import { cliOk, runCli } from '../helpers/cli';
import { dump, expectExactRestore, startCli, temporalCli, waitFor } from '../helpers/durability';
import { createCluster, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

const DAY = 86400;
let cluster: PgCluster;
let backupPath: string;
let env: Record<string, string>;
const work: string[] = [];
const dumps: Record<string, string> = {};
/** Pinned for 30 days by the redundancy test: every retention after it keeps it. */
let pinnedId = '';

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 1 });
  backupPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ret-')), 'catalog');
  work.push(path.dirname(backupPath));
  env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'node', '-D', cluster.pgdata], env);
});

afterAll(async () => {
  await cluster?.destroy();
  for (const d of work) fs.rmSync(d, { recursive: true, force: true });
});

const dir = (id: string) => path.join(backupPath, 'backups', 'node', id);
const controlOf = (id: string) => parseBackupControl(fs.readFileSync(path.join(dir(id), 'backup.control'), 'utf8'), id);
const listed = () => fs.readdirSync(path.join(backupPath, 'backups', 'node')).filter((n) => /^[0-9A-Z]+$/.test(n)).sort();

/** Makes backup `id` look `days` old: its recovery time, as a backup taken then would have. */
function age(id: string, days: number): void {
  const c = controlOf(id);
  c.recoveryTime = Math.floor(Date.now() / 1000) - days * DAY;
  fs.writeFileSync(path.join(dir(id), 'backup.control'), serializeBackupControl(c));
}

async function backup(mode: 'FULL' | 'DELTA', extra: string[] = []): Promise<{ id: string; stderr: string }> {
  const r = await cliOk(['backup', '--instance', 'node', '-b', mode, '--stream', '-j', '2', ...extra], env);
  const id = /INFO: Backup (\w+) completed/.exec(r.stderr)![1];
  dumps[id] = await dump(cluster.socketDir, cluster.port);
  return { id, stderr: r.stderr };
}

async function write(n: number): Promise<void> {
  await cluster.psql(`update pgbench_accounts set abalance = abalance + ${n} where aid % 7 = ${n % 7}; create table t${n} as select g from generate_series(1, ${1000 * n}) g`);
}

test('no policy set: a warning, and nothing is deleted', async () => {
  const f = await backup('FULL');
  const r = await cliOk(['delete', '--instance', 'node', '--delete-expired'], env);
  expect(r.stderr).toMatch(/WARNING: Retention policy is not set/);
  expect(listed()).toEqual([f.id]);
  fs.rmSync(dir(f.id), { recursive: true });
});

test('by window: --dry-run only reports; --merge-expired folds an expired chain into the backup within the window, which restores exactly; --delete-expired deletes the rest', async () => {
  const f0 = (await backup('FULL')).id;
  await write(1);
  const f1 = (await backup('FULL')).id;
  await write(2);
  const d1 = (await backup('DELTA')).id;
  await write(3);
  const d2 = (await backup('DELTA')).id;
  age(f0, 20);
  age(f1, 12);
  age(d1, 10);
  age(d2, 3);
  const args = ['delete', '--instance', 'node', '--delete-expired', '--merge-expired', '--retention-window=7'];

  const dry = await cliOk([...args, '--dry-run'], env);
  expect(dry.stderr).toMatch(new RegExp(`INFO: Backup ${d2}, mode: DELTA, status: OK\\. Redundancy: 1/0, Time Window: 3d/7d\\. Active`));
  expect(dry.stderr).toMatch(new RegExp(`INFO: Backup ${d1}, mode: DELTA, status: OK\\. Redundancy: 1/0, Time Window: 10d/7d\\. Expired`));
  expect(dry.stderr).toMatch(new RegExp(`INFO: Backup ${f0}, mode: FULL, status: OK\\. Redundancy: 2/0, Time Window: 20d/7d\\. Expired`));
  expect(dry.stderr).toMatch(/INFO: There are no backups to delete by retention policy/);
  expect(listed()).toEqual([f0, f1, d1, d2].sort());

  const r = await cliOk(args, env);
  expect(r.stderr).toMatch(new RegExp(`INFO: Merge incremental chain between full backup ${f1} and backup ${d2}`));
  expect(r.stderr).toMatch(new RegExp(`INFO: Delete: ${f0} `));
  expect(r.stderr).toMatch(/INFO: Purging finished/);
  // The chain F1 → D1 → D2 is one FULL backup with D2's ID; F0 is gone.
  expect(listed()).toEqual([d2]);
  const merged = controlOf(d2);
  expect([merged.backupMode, merged.status]).toEqual(['FULL', 'OK']);
  await expectExactRestore(env, 'node', d2, dumps[d2]);
  fs.rmSync(dir(d2), { recursive: true });
});

test('by redundancy, after a backup: backup --delete-expired keeps the newest valid FULL chains, and a pinned backup', async () => {
  const old = (await backup('FULL')).id;
  const pinned = (await backup('FULL')).id;
  await cliOk(['set-backup', '--instance', 'node', '-i', pinned, '--ttl=30d'], env);
  pinnedId = pinned;
  await write(4);
  const f = (await backup('FULL')).id;
  await cliOk(['set-config', '--instance', 'node', '--retention-redundancy=1'], env);
  await write(5);
  const d = await backup('DELTA', ['--delete-expired']);
  expect(d.stderr).toMatch(new RegExp(`INFO: Backup ${d.id} completed[\\s\\S]*INFO: Delete: ${old} `));
  // Outside the redundancy, but pinned for 30 days.
  expect(d.stderr).toMatch(new RegExp(`INFO: Backup ${pinned}, mode: FULL, status: OK\\. Redundancy: 2/1, Time Window: 0d/30d\\. Active`));
  expect(listed()).toEqual([pinned, f, d.id].sort());
  await cliOk(['set-config', '--instance', 'node', '--retention-redundancy=0'], env);
});

test('delete --status deletes every backup with that status and their descendants', async () => {
  const before = listed();
  const f = (await backup('FULL')).id;
  const d = (await backup('DELTA')).id;
  const c = controlOf(f);
  c.status = 'ERROR';
  fs.writeFileSync(path.join(dir(f), 'backup.control'), serializeBackupControl(c));
  const r = await cliOk(['delete', '--instance', 'node', '--status=error'], env);
  expect(r.stderr).toMatch(/INFO: Deleting all backups with status 'ERROR'/);
  expect(listed()).toEqual(before);
  expect(listed()).not.toContain(d);
  const none = await cliOk(['delete', '--instance', 'node', '--status=CORRUPT'], env);
  expect(none.stderr).toMatch(/There are no backups with status 'CORRUPT'/);
});

test('an expired backup an open workflow uses is skipped with a warning, the others go; --delete-wal finds no WAL archive to purge', async () => {
  // The server lingers between these commands (the tests' default stops it at once), so that the
  // Temporal CLI can reach it.
  const lingering = { ...env, GS_PROBACKUP_SERVER_LINGER: '30' };
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(/INFO: Backup (\w+) completed/.exec((await cliOk(['backup', '--instance', 'node', '-b', 'FULL', '--stream'], lingering)).stderr)![1]);
  const [used, free, keep] = ids;
  age(used, 30);
  age(free, 30);
  // A merge naming `used` that no worker runs (its task queue has none): open on the server as long
  // as the test needs, as a merge stuck on a slow disk would be. (A validate or restore that has not
  // resolved its chain yet would hold every backup: it may still read any of them.)
  const wid = `merge/node/${used}`;
  const input = { backupPath, instance: 'node', backupId: used, backups: [{ id: used }] };
  const started = await temporalCli(backupPath, ['workflow', 'start', '--task-queue', 'no-worker', '--type', 'mergeWorkflow', '--workflow-id', wid, '--input', JSON.stringify(input)]);
  expect(started.code).toBe(0);
  try {
    const r = await cliOk(['delete', '--instance', 'node', '--delete-expired', '--retention-window=7'], lingering);
    expect(r.stderr).toMatch(new RegExp(`WARNING: Cannot lock backup ${used} directory, skip purging: workflow ${wid} uses it`));
    expect(r.stderr).toMatch(new RegExp(`INFO: Delete: ${free} `));
    expect(listed()).toContain(used);
    expect(listed()).not.toContain(free);
    expect(listed()).toContain(keep);
  } finally {
    await temporalCli(backupPath, ['workflow', 'terminate', '--workflow-id', wid, '--reason', 'test over']);
  }
  // With the tests' environment again, this command stops the server as it leaves.
  const wal = await cliOk(['delete', '--instance', 'node', '--delete-wal'], env);
  expect(wal.stderr).toMatch(/INFO: There is no WAL to purge by retention policy/);
  expect(wal.stderr).not.toMatch(/Delete:/);
});

test('a Temporal Schedule runs retention with the policy of pg_probackup.conf, on a worker, with no CLI', async () => {
  await cliOk(['set-config', '--instance', 'node', '--retention-redundancy=1'], env);
  const newest = (await backup('FULL')).id;
  expect(listed().length).toBeGreaterThan(2);
  const worker = startCli(['worker', '-B', backupPath], env);
  const scheduleId = 'retention-node';
  try {
    await waitFor('the worker to poll', () => /INFO: worker polls task queue/.test(worker.out()));
    const input = JSON.stringify({ backupPath, instance: 'node', deleteExpired: true, mergeExpired: false });
    const created = await temporalCli(backupPath, [
      'schedule', 'create', '--schedule-id', scheduleId, '--interval', '24h', '--workflow-id', 'delete/node',
      '--task-queue', 'gs_probackup', '--type', 'retentionWorkflow', '--input', input,
    ]);
    expect(created.stderr).toBe('');
    expect((await temporalCli(backupPath, ['schedule', 'trigger', '--schedule-id', scheduleId])).code).toBe(0);
    // Redundancy 1 keeps the newest FULL backup; the pinned one stays too.
    const expected = [newest, pinnedId].sort();
    await waitFor('the scheduled retention to delete every backup but the newest and the pinned one', () => listed().join() === expected.join(), 120_000, 200);
  } finally {
    await temporalCli(backupPath, ['schedule', 'delete', '--schedule-id', scheduleId]);
    worker.child.kill('SIGTERM');
    await worker.done;
  }
  await cliOk(['set-config', '--instance', 'node', '--retention-redundancy=0'], env);
});
