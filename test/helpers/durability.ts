/**
 * Helpers for tests that kill, freeze and cancel real processes: a CLI run in the background whose
 * output is watched, polling for catalog states, the embedded Temporal server's `temporal` CLI, and
 * the exact-restore oracle (pg_dump of the restored cluster equals the source's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, cliOk, REPO_ROOT } from './cli';
import { freePort, pgBin, run, type RunResult } from './pgCluster';

export interface BackgroundCli {
  child: ChildProcess;
  out: () => string;
  done: Promise<number>;
}

/** Starts the CLI in embedded mode without waiting for it; stdout and stderr are collected together. */
export function startCli(args: string[], env: Record<string, string>): BackgroundCli {
  const childEnv = { ...process.env, ...env } as NodeJS.ProcessEnv;
  if (!('TEMPORAL_ADDRESS' in env)) delete childEnv.TEMPORAL_ADDRESS;
  const child = spawn(CLI, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const done = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return { child, out: () => text, done };
}

/** Polls `cond` every `everyMs` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 120_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The newest backup directory of an instance that is not in `except` (IDs seen before the test). */
export function newBackupDir(backupPath: string, instance: string, except: Set<string>): string | undefined {
  const dir = path.join(backupPath, 'backups', instance);
  const ids = fs.readdirSync(dir).filter((n) => !n.includes('.') && !except.has(n));
  return ids.length ? path.join(dir, ids.sort().at(-1)!) : undefined;
}

export function backupIds(backupPath: string, instance: string): Set<string> {
  return new Set(fs.readdirSync(path.join(backupPath, 'backups', instance)).filter((n) => !n.includes('.')));
}

/** backup.control's status, or '' while it is missing or being replaced. */
export function statusOf(backupDir: string): string {
  try {
    return /^status = (\w+)/m.exec(fs.readFileSync(path.join(backupDir, 'backup.control'), 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

export function stateFile(backupDir: string, name: string): string {
  return path.join(backupDir, '.gs_probackup', name);
}

export function copiedBatches(backupDir: string): number {
  const dir = stateFile(backupDir, 'batches');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).length : 0;
}

/** Files under `dir` whose names say they were never finished (per-attempt temporary names). */
export function tempFiles(dir: string): string[] {
  const left: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (/\.gs_tmp\d*$|\.gs_restore_tmp\d*$|\.tmp\.\d+$|\.tmp$|\.partial$/.test(e.name)) left.push(path.relative(dir, path.join(d, e.name)));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return left;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL, then wait until the process is gone: no chance to clean up, as in a power loss. */
export async function killHard(cli: BackgroundCli): Promise<void> {
  cli.child.kill('SIGKILL');
  await cli.done;
}

export async function dump(host: string, port: number): Promise<string> {
  const r = await run(pgBin('pg_dump'), ['-h', host, '-p', String(port), '--no-sync', '--no-unlogged-table-data', '-d', 'postgres']);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.replace(/^\\(un)?restrict .*$/gm, '');
}

export async function startRestored(pgdata: string) {
  const port = await freePort();
  const sock = fs.mkdtempSync('/tmp/pgr');
  const r = await run(pgBin('pg_ctl'), ['-D', pgdata, '-w', '-t', '120', '-l', path.join(sock, 'log'), '-o', `-p ${port} -k ${sock} -c listen_addresses=''`, 'start']);
  if (r.code !== 0) throw new Error(`restored server did not start: ${r.stderr}\n${fs.readFileSync(path.join(sock, 'log'), 'utf8')}`);
  return {
    port,
    sock,
    stop: async () => {
      await run(pgBin('pg_ctl'), ['-D', pgdata, '-w', '-m', 'fast', 'stop']);
      fs.rmSync(sock, { recursive: true, force: true });
    },
  };
}

/**
 * Restores backup `id` of `instance` into a new directory and starts it: its pg_dump must equal
 * `source` (taken from the quiet source cluster) and pg_amcheck must be clean.
 */
export async function expectExactRestore(env: Record<string, string>, instance: string, id: string, source: string): Promise<void> {
  const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'exact-')), 'data');
  try {
    await cliOk(['restore', '--instance', instance, '-D', target, '-i', id, '-j', '2'], env);
    const srv = await startRestored(target);
    try {
      expect(await dump(srv.sock, srv.port)).toEqual(source);
      const amcheck = await run(pgBin('pg_amcheck'), ['-h', srv.sock, '-p', String(srv.port), '--install-missing', '--all']);
      expect(amcheck.stdout + amcheck.stderr).toBe('');
    } finally {
      await srv.stop();
    }
  } finally {
    fs.rmSync(path.dirname(target), { recursive: true, force: true });
  }
}

/** `temporal <args> --address <the catalog's embedded server> --namespace default`. */
export async function temporalCli(backupPath: string, args: string[]): Promise<RunResult> {
  const server = JSON.parse(fs.readFileSync(path.join(backupPath, '.temporal', 'server.json'), 'utf8')) as { port: number };
  return run(path.join(REPO_ROOT, '.tools', 'bin', 'temporal'), [...args, '--address', `127.0.0.1:${server.port}`, '--namespace', 'default']);
}
