/**
 * The SDK's process-wide Runtime, installed once with a logger that speaks our log format: SDK
 * warnings and errors become `WARNING: ...` lines on stderr, INFO and below stay quiet (a CLI
 * command prints its own progress). Signals are left to us: the CLI must cancel its workflow on
 * Ctrl-C with the worker still running, which the SDK's default shutdown-on-signal would prevent.
 */
import { Runtime, type Logger as SdkLogger } from '@temporalio/worker';
import type { LogLevel, LogMetadata } from '@temporalio/common';

export interface TextSink {
  write(text: string): unknown;
}

let sink: TextSink = process.stderr;
let reportWorkflowFailures = false;
let installed = false;

/**
 * Where SDK warnings go (default process.stderr); may be changed after installation. A CLI command
 * reports its own workflow's failure as its ERROR line, so only a long-lived worker also logs them.
 */
export function setSdkLogSink(s: TextSink, opts: { reportWorkflowFailures?: boolean } = {}): void {
  sink = s;
  reportWorkflowFailures = opts.reportWorkflowFailures ?? false;
}

function describe(meta: LogMetadata | undefined): string {
  if (!meta) return '';
  const parts: string[] = [];
  const err = meta.error as { message?: string } | undefined;
  if (err?.message) parts.push(err.message);
  const where = [meta.activityType && `activity ${meta.activityType}`, meta.workflowType && `workflow ${meta.workflowType}`]
    .filter(Boolean)
    .join(', ');
  const attempt = typeof meta.attempt === 'number' && meta.attempt > 1 ? `attempt ${meta.attempt}` : '';
  const ctx = [where, attempt].filter(Boolean).join(', ');
  return (parts.length ? `: ${parts.join('; ')}` : '') + (ctx ? ` (${ctx})` : '');
}

export const cliSdkLogger: SdkLogger = {
  log(level: LogLevel, message: string, meta?: LogMetadata) {
    if (level !== 'WARN' && level !== 'ERROR') return;
    if (message === 'Workflow failed' && !reportWorkflowFailures) return;
    sink.write(`WARNING: ${message}${describe(meta)}\n`);
  },
  trace() {},
  debug() {},
  info() {},
  warn(message: string, meta?: LogMetadata) {
    this.log('WARN', message, meta);
  },
  error(message: string, meta?: LogMetadata) {
    this.log('ERROR', message, meta);
  },
};

/** Installs the Runtime unless one exists already (then that one, and its logger, stay). */
export function installRuntime(): void {
  if (installed) return;
  installed = true;
  try {
    Runtime.install({
      logger: cliSdkLogger,
      shutdownSignals: [],
      telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // Already installed or instantiated by someone else in this process: keep theirs.
  }
}
