import type { Level, Logger } from './logger';

const LEVELS = new Set(['VERBOSE', 'LOG', 'INFO', 'NOTICE', 'WARNING', 'ERROR']);

/**
 * Workflow log lines arrive as `LEVEL: message` (what pg_probackup prints); they go through the
 * CLI's logger so --log-level-console and log files apply to them too.
 */
export function workflowLogSink(logger: Logger): (line: string) => void {
  return (line: string) => {
    const m = /^([A-Z]+): (.*)$/s.exec(line);
    if (m && LEVELS.has(m[1])) logger.emit(m[1] as Level, m[2]);
    else logger.info(line);
  };
}
