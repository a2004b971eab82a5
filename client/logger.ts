/**
 * pg_probackup's logging (spec §14): `LEVEL: message` on stderr at or above --log-level-console;
 * with --log-level-file other than off, also `YYYY-MM-DD HH:MM:SS TZ [pid]: LEVEL: message` lines
 * in <log-directory>/<strftime(log-filename)>, ERRORs also in error-log-filename, and rotation by
 * size and age recorded in `<file>.rotation`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LogLevelName } from '../core/instanceConfig';

export type Level = Exclude<LogLevelName, 'OFF'>;
const RANK: Record<LogLevelName, number> = { VERBOSE: 0, LOG: 1, INFO: 2, NOTICE: 3, WARNING: 4, ERROR: 5, OFF: 6 };

export interface TextSink {
  write(text: string): unknown;
}

export interface LoggerConfig {
  levelConsole: LogLevelName;
  levelFile: LogLevelName;
  formatConsole: 'PLAIN' | 'JSON';
  formatFile: 'PLAIN' | 'JSON';
  /** Absolute; default $BACKUP_PATH/log, resolved by the caller. */
  directory?: string;
  filename: string;
  errorFilename?: string;
  rotationSizeKb: number;
  rotationAgeMs: number;
}

export const DEFAULT_LOGGER_CONFIG: LoggerConfig = {
  levelConsole: 'INFO',
  levelFile: 'OFF',
  formatConsole: 'PLAIN',
  formatFile: 'PLAIN',
  filename: 'pg_probackup.log',
  rotationSizeKb: 0,
  rotationAgeMs: 0,
};

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function zoneAbbrev(d: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'UTC';
}

/** The strftime escapes log file names use; unknown escapes are kept as written. */
export function strftime(pattern: string, d: Date): string {
  return pattern.replace(/%(.)/g, (all, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'y': return pad(d.getFullYear() % 100);
      case 'm': return pad(d.getMonth() + 1);
      case 'd': return pad(d.getDate());
      case 'H': return pad(d.getHours());
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      case 'j': {
        const start = new Date(d.getFullYear(), 0, 1);
        return pad(Math.floor((d.getTime() - start.getTime()) / 86_400_000) + 1, 3);
      }
      case 'u': return String(d.getDay() === 0 ? 7 : d.getDay());
      case 'w': return String(d.getDay());
      case 'a': return DAYS[d.getDay()];
      case 'b': return MONTHS[d.getMonth()];
      case 'Z': return zoneAbbrev(d);
      case '%': return '%';
      default: return all;
    }
  });
}

export function formatLogTime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zoneAbbrev(d)}`;
}

export class Logger {
  private config: LoggerConfig;
  private readonly opened = new Set<string>();
  private fileBroken = false;
  private pendingCommandLine: string | null = null;

  constructor(private readonly stderr: TextSink, config: Partial<LoggerConfig> = {}, private readonly now: () => Date = () => new Date()) {
    this.config = { ...DEFAULT_LOGGER_CONFIG, ...config };
  }

  configure(config: Partial<LoggerConfig>): void {
    this.config = { ...this.config, ...config };
    if (this.pendingCommandLine !== null && this.fileLoggingOn()) {
      const line = this.pendingCommandLine;
      this.pendingCommandLine = null;
      this.toFiles('INFO', line);
    }
  }

  /**
   * pg_probackup logs `command: ...` to the file; the file settings may come from the instance's
   * pg_probackup.conf read later, so the line waits until file logging is on.
   */
  commandLine(msg: string): void {
    if (this.fileLoggingOn()) this.toFiles('INFO', msg);
    else this.pendingCommandLine = msg;
  }

  private fileLoggingOn(): boolean {
    return this.config.levelFile !== 'OFF' && RANK.INFO >= RANK[this.config.levelFile] && !!this.config.directory;
  }

  get settings(): Readonly<LoggerConfig> {
    return this.config;
  }

  verbose(msg: string): void { this.emit('VERBOSE', msg); }
  log(msg: string): void { this.emit('LOG', msg); }
  info(msg: string): void { this.emit('INFO', msg); }
  notice(msg: string): void { this.emit('NOTICE', msg); }
  warning(msg: string): void { this.emit('WARNING', msg); }
  error(msg: string): void { this.emit('ERROR', msg); }

  emit(level: Level, msg: string): void {
    const c = this.config;
    if (RANK[level] >= RANK[c.levelConsole]) {
      this.stderr.write(c.formatConsole === 'JSON' ? this.jsonLine(level, msg) : `${level}: ${msg}\n`);
    }
    this.toFiles(level, msg);
  }

  private jsonLine(level: Level, msg: string): string {
    const ts = formatLogTime(this.now());
    return `{"ts": ${JSON.stringify(ts)}, "pid": "${process.pid}", "level": "${level}", "msg": ${JSON.stringify(msg)}, "my_thread_num": "[1-1]"}\n`;
  }

  private toFiles(level: Level, msg: string): void {
    const c = this.config;
    if (c.levelFile === 'OFF' || RANK[level] < RANK[c.levelFile] || !c.directory || this.fileBroken) return;
    const line = c.formatFile === 'JSON' ? this.jsonLine(level, msg) : `${formatLogTime(this.now())} [${process.pid}]: ${level}: ${msg}\n`;
    try {
      this.append(path.join(c.directory, strftime(c.filename, this.now())), line);
      if (level === 'ERROR' && c.errorFilename) this.append(path.join(c.directory, strftime(c.errorFilename, this.now())), line);
    } catch (e) {
      // A broken log file must not turn a successful command into a failed one.
      this.fileBroken = true;
      this.stderr.write(`WARNING: cannot write log file in "${c.directory}": ${(e as Error).message}\n`);
    }
  }

  private append(file: string, line: string): void {
    if (!this.opened.has(file)) {
      this.openWithRotation(file);
      this.opened.add(file);
    }
    fs.appendFileSync(file, line, { mode: 0o600 });
  }

  /** Rotation happens when a command opens the file, as in pg_probackup's open_logfile. */
  private openWithRotation(file: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const control = `${file}.rotation`;
    const nowSec = Math.floor(this.now().getTime() / 1000);
    const exists = fs.existsSync(file);
    let rotate = false;
    if (exists) {
      let created: number | null = null;
      try {
        const t = fs.readFileSync(control, 'utf8').trim();
        created = /^\d+$/.test(t) ? Number(t) : null;
      } catch {
        created = null;
      }
      if (created === null) {
        this.stderr.write(`WARNING: missing or invalid rotation file "${control}": recreating it\n`);
        fs.writeFileSync(control, `${nowSec}\n`, { mode: 0o600 });
      } else if (this.config.rotationAgeMs > 0 && (nowSec - created) * 1000 > this.config.rotationAgeMs) {
        rotate = true;
      }
      if (this.config.rotationSizeKb > 0 && fs.statSync(file).size >= this.config.rotationSizeKb * 1024) rotate = true;
    }
    if (!exists || rotate) {
      fs.writeFileSync(file, '', { mode: 0o600 });
      fs.writeFileSync(control, `${nowSec}\n`, { mode: 0o600 });
    }
  }
}
