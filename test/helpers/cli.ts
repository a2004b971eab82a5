import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const up = path.resolve(__dirname, '..', '..');
/** The repository, whether this file runs from test/helpers (jest) or dist/test/helpers (scripts). */
export const REPO_ROOT = path.basename(up) === 'dist' ? path.dirname(up) : up;
export const CLI = path.join(REPO_ROOT, 'bin', 'gs_probackup');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI (bin/gs_probackup → dist/) as a child process, the way a DBA or a script does.
 * Embedded mode unless the caller's env sets TEMPORAL_ADDRESS.
 */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
    // The test server of the jest run is for the tests that ask for it; the CLI defaults to embedded mode.
    if (!('TEMPORAL_ADDRESS' in env)) delete childEnv.TEMPORAL_ADDRESS;
    const child = spawn(CLI, args, { env: childEnv as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** Throws with the CLI's output when it did not exit 0, so a failing step explains itself. */
export async function cliOk(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await runCli(args, env);
  if (r.code !== 0) {
    throw new Error(`gs_probackup ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r;
}

/**
 * A new catalog (BACKUP_PATH under a fresh temp directory `root`) with instance `node` for the
 * cluster whose data directory and libpq variables are given; `env` runs the CLI against both.
 */
export async function catalogWithInstance(
  cluster: { pgdata: string; env: Record<string, string> },
  prefix: string,
): Promise<{ root: string; backupPath: string; env: Record<string, string> }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const backupPath = path.join(root, 'catalog');
  const env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'node', '-D', cluster.pgdata], env);
  return { root, backupPath, env };
}

/** A FULL STREAM backup of instance `node`, -j 2: its ID, from the completion line. */
export async function fullBackup(env: Record<string, string>): Promise<string> {
  const r = await cliOk(['backup', '--instance', 'node', '-b', 'FULL', '--stream', '-j', '2'], env);
  return /INFO: Backup (\w+) completed/.exec(r.stderr)![1];
}
