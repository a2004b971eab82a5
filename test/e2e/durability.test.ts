/**
 * Issue 4 under fire, with real processes: the CLI (embedded mode: its in-process worker runs the
 * activities) is SIGKILLed in the middle of the copy, the database changes pages that were already
 * copied, and re-running the same command finishes the same workflow with status OK; the restore
 * equals the source. Ctrl-C cancels a backup cleanly, and a second backup of a busy instance is
 * refused naming the running workflow.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliOk, runCli } from '../helpers/cli';
import { backupIds, dump, expectExactRestore, newBackupDir, startCli, startRestored, waitFor } from '../helpers/durability';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(900_000);

function backupDirOf(backupPath: string, instance: string): string | undefined {
  const dir = path.join(backupPath, 'backups', instance);
  const ids = fs.readdirSync(dir).filter((n) => !n.includes('.'));
  return ids.length ? path.join(dir, ids.sort().at(-1)!) : undefined;
}

function batchResults(backupDir: string): { name: string; bytesRead: number }[] {
  const dir = path.join(backupDir, '.gs_probackup', 'batches');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ name: f, bytesRead: (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { bytesRead: number }).bytesRead }));
}

describe('durability', () => {
  let cluster: PgCluster;
  let backupPath: string;
  let env: Record<string, string>;
  const work: string[] = [];

  beforeAll(async () => {
    cluster = await createCluster({ pgbenchScale: 30 });
    await cluster.psql(`create table doomed as select g from generate_series(1, 10000) g`);
    backupPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dur-')), 'catalog');
    work.push(path.dirname(backupPath));
    env = { ...cluster.env, BACKUP_PATH: backupPath };
    await cliOk(['init'], env);
    await cliOk(['add-instance', '--instance', 'n', '-D', cluster.pgdata], env);
  });

  afterAll(async () => {
    await cluster?.destroy();
    for (const d of work) fs.rmSync(d, { recursive: true, force: true });
  });

  test('SIGKILL mid-copy, pages changed meanwhile: re-running the command resumes the same backup to OK, restore is exact', async () => {
    const args = ['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '1', '-t', '5'];
    const first = startCli(args, env);
    let backupDir: string | undefined;
    await waitFor('a few copied batches', () => {
      backupDir = backupDirOf(backupPath, 'n');
      return !!backupDir && batchResults(backupDir).length >= 2;
    });
    first.child.kill('SIGKILL');
    await first.done;
    const before = batchResults(backupDir!);
    const bytesBefore = before.reduce((s, b) => s + b.bytesRead, 0);
    expect(fs.readFileSync(path.join(backupDir!, 'backup.control'), 'utf8')).toMatch(/status = RUNNING/);

    // Writes into pages that are already in the backup, a new table, a dropped one.
    await cluster.psql(`update pgbench_accounts set abalance = abalance + 7 where aid % 997 = 0;
      create table born as select g, md5(g::text) from generate_series(1, 5000) g; drop table doomed; checkpoint;`);

    const second = await runCli(args, env);
    if (second.code !== 0) throw new Error(`resumed backup failed:\n${first.out()}\n---\n${second.stderr}`);
    const id = /INFO: Backup (\w+) completed/.exec(second.stderr)![1];
    expect(path.basename(backupDir!)).toBe(id);
    const resumed = /Resumed under the new session: .* kept, \d+ dropped/.exec(second.stderr);
    expect(resumed).not.toBeNull();
    const show = JSON.parse((await cliOk(['show', '--instance', 'n', '--format=json'], env)).stdout);
    expect(show[0].backups).toHaveLength(1);
    expect(show[0].backups[0].status).toBe('OK');
    const after = batchResults(backupDir!);
    const resume = after.filter((b) => b.name.startsWith('r'));
    const bytesAgain = resume.reduce((s, b) => s + b.bytesRead, 0);
    const total = Number(show[0].backups[0]['pgdata-bytes']);
    process.stdout.write(
      `durability: copied ${bytesBefore} bytes before the kill; the resume copied ${bytesAgain} again ` +
        `(${resumed![0]}) of ${total} pgdata bytes\n`,
    );
    expect(bytesAgain).toBeLessThan(total / 2);
    expect(Number((await cluster.psql(`select count(*) from pg_replication_slots where slot_name like 'gs_probackup%'`)))).toBe(0);

    await expectExactRestore(env, 'n', id, await dump(cluster.socketDir, cluster.port));
  });

  test('everything killed at once (CLI, its worker, the embedded Temporal server): gs_probackup worker restarts the server and finishes the backup', async () => {
    const args = ['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '1', '-t', '5'];
    const before = backupIds(backupPath, 'n');
    const first = startCli(args, env);
    let backupDir: string | undefined;
    await waitFor('a copied batch', () => {
      const d = backupDirOf(backupPath, 'n');
      if (d && !before.has(path.basename(d)) && batchResults(d).length >= 1) backupDir = d;
      return !!backupDir;
    });
    const server = JSON.parse(fs.readFileSync(path.join(backupPath, '.temporal', 'server.json'), 'utf8')) as { pid: number };
    // As a power loss would: no process gets to clean up.
    first.child.kill('SIGKILL');
    process.kill(server.pid, 'SIGKILL');
    await first.done;
    await waitFor('the server to be gone', () => {
      try {
        process.kill(server.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(fs.readFileSync(path.join(backupDir!, 'backup.control'), 'utf8')).toMatch(/status = RUNNING/);

    const worker = startCli(['worker', '-B', backupPath, '-j', '2'], env);
    try {
      await waitFor('the backup to finish under the worker', () => /status = OK/.test(fs.readFileSync(path.join(backupDir!, 'backup.control'), 'utf8')), 300_000);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.done;
    }
    expect(worker.out()).toMatch(/worker polls task queue/);
    const show = JSON.parse((await cliOk(['show', '--instance', 'n', '-i', path.basename(backupDir!), '--format=json'], env)).stdout);
    expect(show[0].backups[0].status).toBe('OK');
    expect(Number(await cluster.psql(`select count(*) from pg_replication_slots where slot_name like 'gs_probackup%'`))).toBe(0);
  });

  /** Starts a restore of the newest OK backup into a new directory and SIGKILLs it once it writes files. */
  async function killedRestore(prefix: string): Promise<{ id: string; target: string; args: string[] }> {
    const id = JSON.parse((await cliOk(['show', '--instance', 'n', '--format=json'], env)).stdout)[0].backups.find((b: { status: string }) => b.status === 'OK').id as string;
    const target = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.rmdirSync(target);
    work.push(target);
    const args = ['restore', '--instance', 'n', '-D', target, '-i', id, '-j', '1', '--no-validate'];
    const first = startCli(args, env);
    // The file, not the log line: the CLI prints log lines at its once-a-second progress query, by
    // when a restore this size may have ended (a CI run saw the re-run find nothing to follow).
    await waitFor('the restore to write files', () => {
      if (first.child.exitCode !== null) throw new Error(`restore ended before it could be killed:\n${first.out()}`);
      return fs.existsSync(path.join(target, 'global', 'pg_filenode.map'));
    }, 120_000, 2);
    first.child.kill('SIGKILL');
    await first.done;
    return { id, target, args };
  }

  test('a restore killed half way and run again finishes with an exact cluster', async () => {
    const { id, target, args } = await killedRestore('dur-rkill-');
    expect(fs.existsSync(path.join(target, '.gs_probackup_restore'))).toBe(true);
    const again = await runCli(args, env);
    if (again.code !== 0) throw new Error(`resumed restore failed:\n${again.stderr}`);
    expect(again.stderr).toMatch(new RegExp(`Restore of backup ${id} completed`));
    expect(fs.existsSync(path.join(target, '.gs_probackup_restore'))).toBe(false);
    const srv = await startRestored(target);
    try {
      const amcheck = await run(pgBin('pg_amcheck'), ['-h', srv.sock, '-p', String(srv.port), '--install-missing', '--all']);
      expect(amcheck.stdout + amcheck.stderr).toBe('');
      expect(Number((await run(pgBin('psql'), ['-XAt', '-h', srv.sock, '-p', String(srv.port), '-c', 'select count(*) from pgbench_accounts', 'postgres'])).stdout)).toBe(3_000_000);
    } finally {
      await srv.stop();
    }
    // Once shut down cleanly, every page's checksum is right.
    const checksums = await run(pgBin('pg_checksums'), ['--check', '-D', target]);
    expect(checksums.stderr).toBe('');
    expect(checksums.code).toBe(0);
  });

  test('a restore whose target was removed while its CLI was dead fails at once, naming the lost plan; a new restore then succeeds', async () => {
    const { id, target, args } = await killedRestore('dur-rlost-');
    fs.rmSync(target, { recursive: true, force: true });
    // The re-run follows the running workflow, whose next batch finds no plan: no retry brings it back.
    const started = Date.now();
    const again = await runCli(args, env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`is already running: following it`);
    expect(again.stderr).toContain(`the restore's plan "${path.join(target, '.gs_probackup_restore', 'plan.json')}" is gone`);
    // One attempt found the plan gone (the killed one was the first): none after it.
    expect(again.stderr.match(/WARNING: Activity failed: the restore's plan/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(60_000);
    const fresh = await runCli(args, env);
    if (fresh.code !== 0) throw new Error(`new restore failed:\n${fresh.stderr}`);
    expect(fresh.stderr).toMatch(new RegExp(`Restore of backup ${id} completed`));
    expect(fs.existsSync(path.join(target, '.gs_probackup_restore'))).toBe(false);
  });

  test('a second backup of a busy instance is refused naming the running workflow; Ctrl-C cancels cleanly', async () => {
    const first = startCli(['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '1'], env);
    let backupDir: string | undefined;
    await waitFor('the copy to start', () => {
      const d = backupDirOf(backupPath, 'n');
      if (d && fs.existsSync(path.join(d, '.gs_probackup', 'plan.json')) && !fs.readFileSync(path.join(d, 'backup.control'), 'utf8').includes('status = OK')) backupDir = d;
      return !!backupDir;
    });
    const second = await runCli(['backup', '--instance', 'n', '-b', 'FULL', '--stream'], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/ERROR: .*backup.*is running: workflow backup\/n/);

    first.child.kill('SIGINT');
    const code = await first.done;
    expect(code).not.toBe(0);
    expect(first.out()).toMatch(/cancel/i);
    const control = fs.readFileSync(path.join(backupDir!, 'backup.control'), 'utf8');
    expect(control).toMatch(/status = ERROR/);
    expect(fs.readFileSync(path.join(backupDir!, '.gs_probackup', 'error.txt'), 'utf8')).toMatch(/cancel/);
    // PostgreSQL's side is clean: no backup in progress, no slot, no WAL sender of ours.
    await waitFor('the backup connections to close', async () => Number(await cluster.psql(`select count(*) from pg_stat_activity where application_name like 'gs_probackup%'`)) === 0, 30_000);
    expect(Number(await cluster.psql(`select count(*) from pg_replication_slots where slot_name like 'gs_probackup%'`))).toBe(0);
    // A half-written backup never looks complete: without backup_content.control nothing reads it as one.
    expect(fs.existsSync(path.join(backupDir!, 'backup_content.control'))).toBe(false);
  });

  test('a backup whose directory is removed while it copies fails at once, naming what is gone; the slot is dropped', async () => {
    const before = backupIds(backupPath, 'n');
    const cli = startCli(['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '1', '--compress'], env);
    let backupDir: string | undefined;
    await waitFor('the copy to start', () => {
      if (cli.child.exitCode !== null) throw new Error(`backup ended before its directory could be removed:\n${cli.out()}`);
      const d = newBackupDir(backupPath, 'n', before);
      if (d && fs.existsSync(path.join(d, '.gs_probackup', 'batches'))) backupDir = d;
      return !!backupDir;
    });
    const removedAt = Date.now();
    try {
      // The backup writes into the directory meanwhile: a file it creates between rm's unlinks and
      // its rmdir makes ENOTEMPTY, which rm retries.
      fs.rmSync(backupDir!, { recursive: true, force: true, maxRetries: 20, retryDelay: 5 });
    } catch (e) {
      cli.child.kill('SIGKILL'); // else the backup runs on and the next tests find it running
      throw e;
    }
    const code = await cli.done;
    if (code !== 1) throw new Error(`backup ended with ${code}:\n${cli.out()}`);
    expect(cli.out()).toMatch(/ERROR: Backup \w+ failed: .*"[^"]+" was removed or changed while the backup ran; run the backup again/);
    expect(Date.now() - removedAt).toBeLessThan(60_000);
    expect(fs.existsSync(backupDir!)).toBe(false); // nothing recreated it
    await waitFor('the backup connections to close', async () => Number(await cluster.psql(`select count(*) from pg_stat_activity where application_name like 'gs_probackup%'`)) === 0, 30_000);
    expect(Number(await cluster.psql(`select count(*) from pg_replication_slots where slot_name like 'gs_probackup%'`))).toBe(0);
  });

  test('a stalled WAL stream (walsender SIGSTOPped) fails its attempt after -t; once it runs again the backup finishes OK and restores exactly', async () => {
    // zlib keeps the copy busy for seconds: the sender must be stopped while the copy runs, not
    // after the session got its last WAL (that would be a different test, and a race).
    const args = ['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '1', '-t', '4', '--compress-algorithm=zlib', '--compress-level=1'];
    const cli = startCli(args, env);
    // Stopped as soon as it streams, so that the copy runs on while the stream is stalled.
    let sender = 0;
    await waitFor('the backup to stream WAL', async () => {
      // The WAL sender of the backup's own slot: the one this backup streams from.
      sender = Number(await cluster.psql(`select coalesce(max(active_pid), 0) from pg_replication_slots where slot_name like 'gs_probackup_%' and active`));
      return sender > 0;
    }).catch((e) => {
      throw new Error(`${(e as Error).message}:\n${cli.out()}`);
    });
    // What the server's WAL senders were, said when the stall goes unnoticed.
    const senders = () => cluster.psql(`select string_agg(pid || ' ' || application_name || ' ' || state || ' ' || backend_start, '; ') from pg_stat_replication`);
    const before = await senders();
    process.kill(sender, 'SIGSTOP');
    try {
      await waitFor('the stall to be noticed', () => /WAL streaming stalled/.test(cli.out()), 60_000).catch(async (e) => {
        throw new Error(`${(e as Error).message}; stopped ${sender}; WAL senders before: ${before}; after: ${await senders()}`);
      });
      // The retry finds the slot still held by the stopped sender and waits.
      await new Promise((r) => setTimeout(r, 4000));
    } catch (e) {
      cli.child.kill('SIGKILL');
      throw new Error(`${(e as Error).message}:\n${cli.out()}`);
    } finally {
      process.kill(sender, 'SIGCONT');
    }
    const code = await cli.done;
    if (code !== 0) throw new Error(`backup after the stall failed:\n${cli.out()}`);
    expect(cli.out()).toMatch(/WAL streaming stalled: no message from the server for \d+s .*limit -t\/--rw-timeout=4s/);
    expect(cli.out()).toMatch(/the backup session was lost and opened again/);
    const id = /INFO: Backup (\w+) completed/.exec(cli.out())![1];
    await expectExactRestore(env, 'n', id, await dump(cluster.socketDir, cluster.port));
  });

  test('a frozen worker (the CLI SIGSTOPped past -t) is retried once it runs again: stale attempts stand down, the backup is OK and exact', async () => {
    const args = ['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '2', '-t', '4'];
    const before = backupIds(backupPath, 'n');
    const cli = startCli(args, env);
    let backupDir: string | undefined;
    await waitFor('a copied batch', () => {
      const d = backupDirOf(backupPath, 'n');
      if (d && !before.has(path.basename(d)) && batchResults(d).length >= 1) backupDir = d;
      return !!backupDir;
    });
    cli.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 12_000));
    cli.child.kill('SIGCONT');
    const timer = setTimeout(() => cli.child.kill('SIGKILL'), 300_000);
    const code = await cli.done;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`backup after the freeze failed:\n${cli.out()}`);
    const id = /INFO: Backup (\w+) completed/.exec(cli.out())![1];
    expect(path.basename(backupDir!)).toBe(id);
    // The copy attempts that timed out were retried (a newer attempt claimed their batch).
    const claims = fs.readdirSync(path.join(backupDir!, '.gs_probackup', 'batches')).filter((f) => f.endsWith('.claim'));
    expect(claims.some((f) => /^[2-9]|^\d{2}/.test(fs.readFileSync(path.join(backupDir!, '.gs_probackup', 'batches', f), 'utf8')))).toBe(true);
    // No temp file of any attempt is left in the backup.
    const left: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else if (/\.gs_tmp\d+$/.test(e.name)) left.push(e.name);
      }
    };
    walk(path.join(backupDir!, 'database'));
    expect(left).toEqual([]);
    const v = await runCli(['validate', '--instance', 'n', '-i', id], env);
    expect(v.code).toBe(0);
    await expectExactRestore(env, 'n', id, await dump(cluster.socketDir, cluster.port));
  });

  /** Crashes the server the way a segfaulting backend does: SIGKILL on one backend makes the postmaster reinitialise. */
  async function crashServer(): Promise<void> {
    const sleeper = spawn(pgBin('psql'), ['-XAtq', '-h', cluster.socketDir, '-p', String(cluster.port), '-d', 'postgres', '-c', 'select pg_sleep(600)'], { stdio: 'ignore' });
    let pid = 0;
    await waitFor('the victim backend', async () => {
      pid = Number(await cluster.psql(`select coalesce(max(pid), 0) from pg_stat_activity where query = 'select pg_sleep(600)'`));
      return pid > 0;
    });
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => sleeper.on('close', r));
  }

  async function serverUp(): Promise<void> {
    await waitFor('the server to accept connections after crash recovery', async () => cluster.psql('select 1').then(() => true, () => false), 120_000);
  }

  test('the database server crashes during a backup: ERROR with the reason, no retry loop, slot dropped', async () => {
    const args = ['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '1'];
    const before = backupIds(backupPath, 'n');
    const cli = startCli(args, env);
    let backupDir: string | undefined;
    await waitFor('a copied batch', () => {
      const d = backupDirOf(backupPath, 'n');
      if (d && !before.has(path.basename(d)) && batchResults(d).length >= 1) backupDir = d;
      return !!backupDir;
    });
    const crashedAt = Date.now();
    await crashServer();
    const code = await cli.done;
    expect(code).toBe(1);
    expect(Date.now() - crashedAt).toBeLessThan(60_000);
    expect(cli.out()).toMatch(/ERROR: Backup \w+ failed: the database server ended the backup session: terminating connection because of crash of another server process \(SQLSTATE 57P02\)/);
    expect(fs.readFileSync(path.join(backupDir!, 'backup.control'), 'utf8')).toMatch(/status = ERROR/);
    expect(fs.readFileSync(path.join(backupDir!, '.gs_probackup', 'error.txt'), 'utf8')).toMatch(/crash of another server process/);
    await serverUp();
    expect(Number(await cluster.psql(`select count(*) from pg_replication_slots where slot_name like 'gs_probackup%'`))).toBe(0);
  });

  test('worker frozen (SIGSTOP) while the server crashes, then killed: the re-run sees the server restarted and ends ERROR', async () => {
    const args = ['backup', '--instance', 'n', '-b', 'FULL', '--stream', '-j', '1', '-t', '5'];
    const before = backupIds(backupPath, 'n');
    const first = startCli(args, env);
    let backupDir: string | undefined;
    await waitFor('a copied batch', () => {
      const d = backupDirOf(backupPath, 'n');
      if (d && !before.has(path.basename(d)) && batchResults(d).length >= 1) backupDir = d;
      return !!backupDir;
    });
    // The frozen worker never reads the server's goodbye: the next session learns of the crash
    // only from the server itself.
    first.child.kill('SIGSTOP');
    await crashServer();
    await serverUp();
    first.child.kill('SIGKILL');
    await first.done;
    const second = await runCli(args, env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/ERROR: Backup \w+ failed: the database server restarted or recovered from a crash during the backup/);
    expect(fs.readFileSync(path.join(backupDir!, 'backup.control'), 'utf8')).toMatch(/status = ERROR/);
    expect(Number(await cluster.psql(`select count(*) from pg_replication_slots where slot_name like 'gs_probackup%'`))).toBe(0);
  });
});
