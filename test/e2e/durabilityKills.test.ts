/**
 * Issue 4, the rest of it, with real processes: the CLI (its in-process worker) SIGKILLed at more
 * points of a backup, each time re-run to the same OK backup and an exact restore; a backup and a
 * restore cancelled from the Temporal CLI; delete -i refused while a running workflow uses the
 * backup. Triggers are catalog files, watched every few milliseconds, so each kill lands where
 * its test says.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliOk, runCli } from '../helpers/cli';
import {
  backupIds, copiedBatches, dump, expectExactRestore, killHard, newBackupDir, startCli, stateFile, statusOf,
  tempFiles, temporalCli, waitFor,
} from '../helpers/durability';
import { createCluster, type PgCluster } from '../helpers/pgCluster';
import { acquireEmbeddedServer, type EmbeddedServerLease } from '../../client/temporal/embeddedServer';
import { pathKey } from '../../core/workflowIds';

jest.setTimeout(600_000);

describe('durability: kills at more points, cancel from Temporal, delete guarded', () => {
  let cluster: PgCluster;
  let backupPath: string;
  let env: Record<string, string>;
  const work: string[] = [];
  let lease: EmbeddedServerLease | undefined;
  const args = (...extra: string[]) => ['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '1', ...extra];

  beforeAll(async () => {
    cluster = await createCluster({ pgbenchScale: 10 });
    backupPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'durk-')), 'catalog');
    work.push(path.dirname(backupPath));
    env = { ...cluster.env, BACKUP_PATH: backupPath };
    await cliOk(['init'], env);
    await cliOk(['add-instance', '--instance', 'n', '-D', cluster.pgdata], env);
    // The test is one more user of the catalog's embedded server: it stays up between CLI runs,
    // so the `temporal` CLI can reach it once a cancelled command has exited.
    lease = await acquireEmbeddedServer({ backupPath, role: 'cli' });
  });

  afterAll(async () => {
    await lease?.release().catch(() => undefined);
    await cluster?.destroy();
    for (const d of work) fs.rmSync(d, { recursive: true, force: true });
  });

  /** An OK backup: one the kill tests left, or a new one when they were filtered out. */
  async function anOkBackup(): Promise<string> {
    const show = JSON.parse((await cliOk(['show', '--instance', 'n', '--format=json'], env)).stdout);
    const found = show[0].backups.find((b: { status: string }) => b.status === 'OK');
    if (found) return found.id as string;
    return /INFO: Backup (\w+) completed/.exec((await cliOk(args(), env)).stderr)![1];
  }

  const slotsLeft = async () => Number(await cluster.psql(`select count(*) from pg_replication_slots where slot_name like 'gs_probackup%'`));

  /** Re-runs the killed command: it must take over the same workflow and end OK, restoring exactly. */
  async function rerunToOk(backupDir: string, cmd: string[], firstOut: string): Promise<string> {
    const again = await runCli(cmd, env);
    if (again.code !== 0) throw new Error(`re-run failed:\n${firstOut}\n---\n${again.stderr}`);
    expect(again.stderr).toMatch(/workflow backup\/n \(run [\w-]+\) is already running: following it/);
    const id = /INFO: Backup (\w+) completed/.exec(again.stderr)![1];
    const resumed = /Resumed under the new session: .*/.exec(again.stderr);
    if (resumed) process.stdout.write(`${expect.getState().currentTestName}: ${resumed[0]}\n`);
    expect(path.basename(backupDir)).toBe(id);
    expect(statusOf(backupDir)).toBe('OK');
    expect(await slotsLeft()).toBe(0);
    await expectExactRestore(env, 'n', id, await dump(cluster.socketDir, cluster.port));
    return again.stderr;
  }

  test('killed while only the backup session is open (start LSN known, nothing copied yet): the re-run finishes it OK, restore exact', async () => {
    const cmd = args('-t', '5');
    const before = backupIds(backupPath, 'n');
    const cli = startCli(cmd, env);
    let dir: string | undefined;
    // session.json is written once pg_backup_start returned and the WAL stream runs; plan.json ends the file listing.
    await waitFor('the backup session to open', () => {
      dir = newBackupDir(backupPath, 'n', before);
      return !!dir && fs.existsSync(stateFile(dir, 'session.json'));
    }, 120_000, 5);
    await killHard(cli);
    expect(fs.existsSync(stateFile(dir!, 'plan.json'))).toBe(false);
    expect(copiedBatches(dir!)).toBe(0);
    expect(statusOf(dir!)).toBe('RUNNING');
    await rerunToOk(dir!, cmd, cli.out());
  });

  // This test found a resume bug: pg_backup_stop switches WAL segments, and the WAL scan of the
  // resume ended at that switch, so pages changed after it (autovacuum's, here the test's update)
  // were kept stale. The scan now follows the switch, and a scan that ends early copies everything.
  test('killed after pg_backup_stop, before backup.control is written: the re-run opens a new session and finishes OK, restore exact', async () => {
    // -t 30: the WAL stream may be silent that long, which holds the session after pg_backup_stop
    // while its WAL sender is frozen: the window in which the worker is killed.
    const cmd = args('-t', '30');
    const before = backupIds(backupPath, 'n');
    const cli = startCli(cmd, env);
    let sender = 0;
    await waitFor('the backup to stream WAL', async () => {
      sender = Number(await cluster.psql(`select coalesce(max(pid), 0) from pg_stat_replication where application_name = 'gs_probackup_wal'`));
      return sender > 0;
    });
    let dir: string | undefined;
    await waitFor('the copy to end (stop requested)', () => {
      dir = newBackupDir(backupPath, 'n', before);
      return !!dir && fs.existsSync(stateFile(dir, 'stop-request'));
    }, 300_000, 5);
    process.kill(sender, 'SIGSTOP');
    try {
      // backup_label is pg_backup_stop's answer, written before the session waits for the stop LSN's WAL.
      await waitFor('pg_backup_stop', () => fs.existsSync(path.join(dir!, 'database', 'backup_label')), 20_000, 5);
      await killHard(cli);
    } finally {
      process.kill(sender, 'SIGCONT');
    }
    expect(statusOf(dir!)).toBe('RUNNING');
    expect(fs.existsSync(path.join(dir!, 'backup_content.control'))).toBe(false);
    // Pages already copied change between the sessions, after pg_backup_stop's segment switch.
    await cluster.psql(`update pgbench_accounts set abalance = abalance + 1 where aid % 500 = 0`);
    const out = await rerunToOk(dir!, cmd, cli.out());
    expect(out).toMatch(/the backup session was lost and opened again/);
    expect(out).toMatch(/WAL since the first start changed [1-9]\d* blocks/);
  });

  test('killed as the validation of the finished backup starts: the re-run validates it again and ends OK, restore exact', async () => {
    const cmd = args('-t', '5');
    const before = backupIds(backupPath, 'n');
    const cli = startCli(cmd, env);
    let dir: string | undefined;
    // DONE is written just before "Validating backup"; OK ends the validation. The CLI (its worker
    // and file threads with it) is frozen the moment DONE shows, so that the kill lands before OK
    // however fast the validation is: a pause of 300 ms here was longer than this small backup's
    // whole validation on a fast machine.
    await waitFor('the backup to be DONE', () => {
      dir = newBackupDir(backupPath, 'n', before);
      const done = !!dir && statusOf(dir) === 'DONE';
      if (done) cli.child.kill('SIGSTOP');
      return done;
    }, 300_000, 5);
    expect(statusOf(dir!)).toBe('DONE');
    await killHard(cli);
    expect(statusOf(dir!)).toBe('DONE');
    expect(fs.existsSync(path.join(dir!, 'backup_content.control'))).toBe(true);
    const out = await rerunToOk(dir!, cmd, cli.out());
    expect(out).toMatch(new RegExp(`Validating backup ${path.basename(dir!)}`));
  });

  /** The CLI started the workflow; `temporal workflow cancel` on the catalog's embedded server stops it. */
  async function cancelFromTemporal(workflowId: string): Promise<number> {
    const r = await temporalCli(backupPath, ['workflow', 'cancel', '--workflow-id', workflowId]);
    if (r.code !== 0) throw new Error(`temporal workflow cancel failed: ${r.stdout}${r.stderr}`);
    return Date.now();
  }

  async function workflowStatus(workflowId: string): Promise<string> {
    const r = await temporalCli(backupPath, ['workflow', 'describe', '--workflow-id', workflowId, '-o', 'json']);
    return (JSON.parse(r.stdout) as { workflowExecutionInfo: { status: string } }).workflowExecutionInfo.status;
  }

  test.each([
    ['--temp-slot', ['--temp-slot']],
    ['its own slot (no -S)', []],
  ])('a backup cancelled with temporal workflow cancel (%s) stops at once: ERROR with the reason, backup ended on the server, slot dropped, nothing looks complete', async (_name, extra) => {
    const before = backupIds(backupPath, 'n');
    const cli = startCli(args(...extra), env);
    let dir: string | undefined;
    await waitFor('a copied batch', () => {
      dir = newBackupDir(backupPath, 'n', before);
      return !!dir && copiedBatches(dir) >= 1;
    });
    const slotsDuring = await cluster.psql(`select string_agg(slot_name || ':' || temporary, ',') from pg_replication_slots`);
    expect(slotsDuring).toMatch(extra.length ? /gs_probackup_\w+_1:t/ : /gs_probackup_\w+:f/);
    const cancelledAt = await cancelFromTemporal('backup/n');
    const code = await cli.done;
    const took = Date.now() - cancelledAt;
    expect(code).not.toBe(0);
    expect(took).toBeLessThan(20_000);
    expect(cli.out()).toMatch(/cancel/i);
    expect(await workflowStatus('backup/n')).toMatch(/CANCELED/);
    const id = path.basename(dir!);
    const show = JSON.parse((await cliOk(['show', '--instance', 'n', '-i', id, '--format=json'], env)).stdout);
    expect(show[0].backups[0].status).toBe('ERROR');
    expect(fs.readFileSync(stateFile(dir!, 'error.txt'), 'utf8')).toMatch(/backup was cancelled/);
    // PostgreSQL's side: no session of ours holds a backup, no slot is left, a new backup can start.
    await waitFor('the backup connections to close', async () => Number(await cluster.psql(`select count(*) from pg_stat_activity where application_name like 'gs_probackup%'`)) === 0, 30_000);
    expect(await slotsLeft()).toBe(0);
    expect(await cluster.psql(`select pg_backup_start('probe', true) is not null; select lsn is not null from pg_backup_stop(false);`)).toBe('t\nt');
    // Nothing reads a half-written backup as complete.
    expect(fs.existsSync(path.join(dir!, 'backup_content.control'))).toBe(false);
    // No copy's temporary file is left; the WAL segment being streamed keeps pg_receivewal's
    // ".partial" name, which says it is incomplete.
    const left = tempFiles(path.join(dir!, 'database'));
    process.stdout.write(`cancel ${_name}: CLI exited ${took} ms after the cancel; left: ${left.join(' ') || 'nothing'}\n`);
    expect(left.filter((f) => !/^pg_wal\/[0-9A-F]{24}\.partial$/.test(f))).toEqual([]);
  });

  test('a restore cancelled with temporal workflow cancel stops at once and leaves no temp file', async () => {
    const id = await anOkBackup();
    const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'durk-rc-')), 'data');
    work.push(path.dirname(target));
    const cli = startCli(['restore', '--instance', 'n', '-D', target, '-i', id, '-j', '1', '--no-validate'], env);
    await waitFor('the restore to write files', () => {
      if (cli.child.exitCode !== null) throw new Error(`restore ended before it could be cancelled:\n${cli.out()}`);
      return fs.existsSync(path.join(target, 'global', 'pg_filenode.map'));
    }, 120_000, 10);
    const wid = `restore/n/${pathKey(target)}`;
    const cancelledAt = await cancelFromTemporal(wid);
    const code = await cli.done;
    const took = Date.now() - cancelledAt;
    expect(code).not.toBe(0);
    expect(took).toBeLessThan(20_000);
    expect(cli.out()).toMatch(/cancel/i);
    expect(await workflowStatus(wid)).toMatch(/CANCELED/);
    const left = tempFiles(target);
    process.stdout.write(`restore cancel: CLI exited ${took} ms after the cancel; temp files left: ${left.length}\n`);
    expect(left).toEqual([]);
    // Not a usable cluster, and it says so: the restore marker stays until a restore completes.
    expect(fs.existsSync(path.join(target, '.gs_probackup_restore'))).toBe(true);
  });

  describe('delete -i', () => {
    let okId: string;

    beforeAll(async () => {
      okId = await anOkBackup();
    });

    const okDir = () => path.join(backupPath, 'backups', 'n', okId);

    /** delete -i must fail naming `workflowId`, with the backup untouched. */
    async function expectRefused(id: string, workflowId: RegExp): Promise<void> {
      const statusBefore = statusOf(path.join(backupPath, 'backups', 'n', id));
      const r = await runCli(['delete', '--instance', 'n', '-i', id], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`ERROR: cannot delete backup ${id}: a running .*: workflow ${workflowId.source} \\(run [\\w-]+\\)`));
      expect(statusOf(path.join(backupPath, 'backups', 'n', id))).toBe(statusBefore);
      expect(r.stderr).not.toMatch(/INFO: Delete:/);
    }

    test('refused while a restore reads the backup (its CLI frozen), naming the restore workflow', async () => {
      const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'durk-dr-')), 'data');
      work.push(path.dirname(target));
      const cli = startCli(['restore', '--instance', 'n', '-D', target, '-i', okId, '-j', '1', '--no-validate'], env);
      await waitFor('the restore to write files', () => fs.existsSync(path.join(target, 'global', 'pg_filenode.map')), 120_000, 10);
      cli.child.kill('SIGSTOP');
      try {
        await expectRefused(okId, new RegExp(`restore/n/${pathKey(target)}`));
      } finally {
        cli.child.kill('SIGCONT');
      }
      expect(await cli.done).toBe(0);
    });

    test('refused while a validate (started from the Temporal CLI, as from the Web UI) reads it, and while a backup writes one', async () => {
      const input = JSON.stringify({ backupPath, instance: 'n', backupId: okId, skipBlockValidation: false, threads: 1 });
      // No worker runs it (no CLI is up): it stays RUNNING as long as the test needs.
      const started = await temporalCli(backupPath, [
        'workflow', 'start', '--type', 'validateWorkflow', '--task-queue', 'gs_probackup', '--workflow-id', `validate/n/${okId}`, '--input', input,
      ]);
      expect(started.code).toBe(0);
      try {
        await expectRefused(okId, new RegExp(`validate/n/${okId}`));
      } finally {
        await temporalCli(backupPath, ['workflow', 'terminate', '--workflow-id', `validate/n/${okId}`, '--reason', 'test over']);
      }

      const before = backupIds(backupPath, 'n');
      const cli = startCli(args(), env);
      let dir: string | undefined;
      await waitFor('a copied batch', () => {
        dir = newBackupDir(backupPath, 'n', before);
        return !!dir && copiedBatches(dir) >= 1;
      });
      cli.child.kill('SIGSTOP');
      try {
        await expectRefused(path.basename(dir!), /backup\/n/);
      } finally {
        cli.child.kill('SIGCONT');
      }
      cli.child.kill('SIGINT');
      await cli.done;
      expect(statusOf(dir!)).toBe('ERROR');
    });

    test('an unknown ID is an error; an OK backup is deleted with pg_probackup\'s messages and show no longer lists it', async () => {
      const unknown = await runCli(['delete', '--instance', 'n', '-i', 'ZZZZZZ'], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/ERROR: Failed to find backup ZZZZZZ, cannot delete/);

      const r = await cliOk(['delete', '--instance', 'n', '-i', okId], env);
      expect(r.stderr).toMatch(new RegExp(`INFO: Resident data size to free by delete of backup ${okId} : \\d`));
      expect(r.stderr).toMatch(new RegExp(`INFO: Delete: ${okId} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d[+-]\\d\\d`));
      expect(fs.existsSync(okDir())).toBe(false);
      const show = JSON.parse((await cliOk(['show', '--instance', 'n', '--format=json'], env)).stdout);
      expect(show[0].backups.map((b: { id: string }) => b.id)).not.toContain(okId);
      expect(show[0].backups.length).toBeGreaterThan(0);
    });
  });
});
