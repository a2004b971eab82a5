/**
 * Standalone worker entry for containers (docker-compose, systemd): `node dist/workers/main.js
 * [-B PATH] [-j N] [--task-queue NAME]`. Same as `gs_probackup worker`; options may also come from
 * BACKUP_PATH, WORKER_THREADS and TEMPORAL_TASK_QUEUE.
 */
import { CliError } from '../client/errors';
import { runWorkerCommand, type WorkerCommandOptions } from './workerCommand';

export function parseWorkerArgs(argv: readonly string[], env: Record<string, string | undefined>): WorkerCommandOptions {
  const opts: WorkerCommandOptions = { backupPath: env.BACKUP_PATH || undefined, threads: 1 };
  const threadsText = env.WORKER_THREADS;
  if (threadsText) opts.threads = parseThreads(threadsText, 'WORKER_THREADS');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new CliError(`option ${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-B':
      case '--backup-path':
        opts.backupPath = value();
        break;
      case '-j':
      case '--threads':
        opts.threads = parseThreads(value(), flag);
        break;
      case '--task-queue':
        opts.taskQueue = value();
        break;
      default:
        throw new CliError(`unknown option "${a}": usage: main.js [-B PATH] [-j N] [--task-queue NAME]`);
    }
  }
  return opts;
}

function parseThreads(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new CliError(`invalid value "${text}" for ${what}: expected an integer from 1 to 1000`);
  return n;
}

if (require.main === module) {
  (async () => {
    const opts = parseWorkerArgs(process.argv.slice(2), process.env);
    return runWorkerCommand(opts, { env: process.env, stderr: process.stderr });
  })().then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`ERROR: ${(e as Error)?.message ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
