/**
 * What the CLI shows while it waits for a workflow: the workflow's own log lines as they appear,
 * and with --progress a status line (phase, files, bytes, rate, ETA). On a terminal the status
 * line is redrawn in place; in a pipe or a log file it is a plain INFO line every few seconds.
 */
import type { Progress } from '../../workflows/progress';

export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} ${UNITS[u]}` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `Progress: copying, files 120/1500 (8%), 1.2 GB/15 GB, 45 MB/s, ETA 5m10s` */
export function formatProgressLine(p: Progress, bytesPerSec: number | undefined): string {
  const parts = [p.phase];
  if (p.filesTotal > 0) {
    parts.push(`files ${p.filesDone}/${p.filesTotal} (${Math.floor((100 * p.filesDone) / p.filesTotal)}%)`);
  }
  if (p.bytesTotal > 0) parts.push(`${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}`);
  else if (p.bytesDone > 0) parts.push(formatBytes(p.bytesDone));
  if (bytesPerSec !== undefined && bytesPerSec > 0) {
    parts.push(`${formatBytes(bytesPerSec)}/s`);
    if (p.bytesTotal > p.bytesDone) parts.push(`ETA ${formatDuration((p.bytesTotal - p.bytesDone) / bytesPerSec)}`);
  }
  if (p.message) parts.push(p.message);
  return `Progress: ${parts.join(', ')}`;
}

/** Bytes per second over the last `windowMs` of samples. */
export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];
  constructor(private readonly windowMs = 10_000) {}

  add(t: number, bytes: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && bytes < last.bytes) this.samples = []; // counters restarted (new attempt)
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - this.samples[0].t > this.windowMs) this.samples.shift();
  }

  rate(): number | undefined {
    if (this.samples.length < 2) return undefined;
    const a = this.samples[0];
    const b = this.samples[this.samples.length - 1];
    return b.t > a.t ? ((b.bytes - a.bytes) * 1000) / (b.t - a.t) : undefined;
  }
}

export interface ProgressViewOptions {
  stderr: TextSink;
  showProgress: boolean;
  /** Receives the workflow's log lines instead of stderr (e.g. the CLI logger). */
  onLog?: (line: string) => void;
  /** Non-terminal status line interval. */
  plainIntervalMs?: number;
  now?: () => number;
}

export class ProgressView {
  private printed = 0;
  private lineShown = false;
  private lastLine = '';
  private lastPlainAt = 0;
  private readonly meter = new RateMeter();
  private readonly tty: boolean;
  private readonly now: () => number;

  constructor(private readonly o: ProgressViewOptions) {
    this.tty = o.stderr.isTTY === true;
    this.now = o.now ?? Date.now;
  }

  /** Prints log lines not printed yet and, with --progress, the status line. */
  update(p: Progress): void {
    const lines = Array.isArray(p.log) ? p.log : [];
    if (lines.length > this.printed) {
      this.clearLine();
      for (const line of lines.slice(this.printed)) this.emit(line);
      this.printed = lines.length;
    }
    if (!this.o.showProgress || p.phase === 'done') return;
    const t = this.now();
    this.meter.add(t, p.bytesDone);
    const line = formatProgressLine(p, this.meter.rate());
    if (this.tty) {
      this.o.stderr.write(`\r\x1b[K${line}`);
      this.lineShown = true;
    } else if (line !== this.lastLine && t - this.lastPlainAt >= (this.o.plainIntervalMs ?? 5000)) {
      this.o.stderr.write(`INFO: ${line}\n`);
      this.lastPlainAt = t;
    }
    this.lastLine = line;
  }

  /** Lines of our own (e.g. "attaching to ...") that must not tear the status line. */
  emit(line: string): void {
    this.clearLine();
    if (this.o.onLog) this.o.onLog(line);
    else this.o.stderr.write(`${line}\n`);
  }

  clearLine(): void {
    if (this.lineShown) {
      this.o.stderr.write('\r\x1b[K');
      this.lineShown = false;
    }
  }
}
