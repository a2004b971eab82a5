/**
 * `gs_probackup worker`: a long-lived worker. With TEMPORAL_ADDRESS it polls that server (systemd,
 * docker-compose; several may poll one queue). Without it, it starts or reuses the embedded server
 * of the catalog given with -B and keeps it up, so workflows left pending by a killed CLI finish.
 * Runs until SIGINT/SIGTERM, then lets running activities finish within the grace time.
 */
import { connectTemporal } from '../client/temporal/connection';
import { CliError } from '../client/errors';
import { createBackupWorker, prestartFileThreads } from './worker';
import { setSdkLogSink, type TextSink } from './runtime';

export interface WorkerCommandOptions {
  backupPath?: string;
  taskQueue?: string;
  threads: number;
}

export interface WorkerCommandContext {
  env: Record<string, string | undefined>;
  stderr: TextSink;
  /** When given (the CLI's logger), INFO lines go through it and honour --log-level-console. */
  logger?: { info(msg: string): void };
  /** Default SIGINT and SIGTERM. */
  signals?: NodeJS.Signals[];
  /** Resolves when the worker polls (tests). */
  onReady?: (info: { address: string; taskQueue: string; namespace: string; uiPort?: number }) => void;
}

export async function runWorkerCommand(opts: WorkerCommandOptions, ctx: WorkerCommandContext): Promise<number> {
  const info = (msg: string) => (ctx.logger ? ctx.logger.info(msg) : ctx.stderr.write(`INFO: ${msg}\n`));
  setSdkLogSink(ctx.stderr, { reportWorkflowFailures: true });
  const env = opts.taskQueue ? { ...ctx.env, TEMPORAL_TASK_QUEUE: opts.taskQueue } : ctx.env;
  if (!env.TEMPORAL_ADDRESS && !opts.backupPath) {
    throw new CliError('worker needs TEMPORAL_ADDRESS, or -B/--backup-path to run the embedded server of that catalog');
  }
  const tctx = await connectTemporal({ backupPath: opts.backupPath, env, role: 'worker' });
  try {
    const worker = await createBackupWorker({
      nativeConnection: tctx.nativeConnection,
      namespace: tctx.namespace,
      taskQueue: tctx.taskQueue,
      maxConcurrentActivities: opts.threads,
    });
    const signals = ctx.signals ?? ['SIGINT', 'SIGTERM'];
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      info(`received ${sig}: stopping the worker (running activities get 5 s to finish)`);
      worker.shutdown();
    };
    for (const s of signals) process.on(s, onSignal);
    try {
      const where =
        tctx.mode === 'embedded'
          ? `embedded Temporal server ${tctx.address} (Web UI http://127.0.0.1:${tctx.embedded!.server.uiPort})`
          : `Temporal at ${tctx.address}`;
      info(`worker polls task queue '${tctx.taskQueue}' of namespace '${tctx.namespace}' on ${where}`);
      const run = worker.run();
      prestartFileThreads(opts.threads);
      ctx.onReady?.({
        address: tctx.address,
        taskQueue: tctx.taskQueue,
        namespace: tctx.namespace,
        uiPort: tctx.embedded?.server.uiPort,
      });
      await run;
    } finally {
      for (const s of signals) process.removeListener(s, onSignal);
    }
    info('worker stopped');
    return 0;
  } finally {
    await tctx.close();
  }
}
