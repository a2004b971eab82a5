/**
 * Is a recorded pid still the process that wrote it? A pid alone is not enough: after a reboot or a
 * long time the number can belong to an unrelated process, so records also keep the process start
 * time from /proc (Linux); where /proc is missing, liveness falls back to kill(pid, 0).
 */
import * as fs from 'node:fs';

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined. */
export function processStartTime(pid: number): number | undefined {
  const stat = procStat(pid);
  return stat?.startTime;
}

function procStat(pid: number): { state: string; startTime: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(rest[19]);
  return { state: rest[0], startTime: Number.isFinite(startTime) ? startTime : NaN };
}

export interface ProcessRecord {
  pid: number;
  procStart?: number;
}

export function isProcessAlive(rec: ProcessRecord): boolean {
  if (!Number.isInteger(rec.pid) || rec.pid <= 0) return false;
  try {
    process.kill(rec.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(rec.pid);
  // Without /proc (not Linux) kill(pid, 0) is all we know; with it, a missing entry means gone.
  if (stat === undefined) return !fs.existsSync('/proc/self/stat');
  // A zombie has exited; only its parent has not reaped it yet.
  if (stat.state === 'Z' || stat.state === 'X') return false;
  if (rec.procStart !== undefined && Number.isFinite(stat.startTime) && stat.startTime !== rec.procStart) return false;
  return true;
}

/** The process's command line as argv, or undefined when it cannot be read. */
export function processArgv(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
  } catch {
    return undefined;
  }
}

export function currentProcessRecord(): ProcessRecord {
  return { pid: process.pid, procStart: processStartTime(process.pid) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM, wait up to `graceMs`, then SIGKILL and wait a little more. Returns true once it is gone. */
export async function terminateProcess(rec: ProcessRecord, graceMs: number): Promise<boolean> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(rec.pid, sig);
    } catch {
      /* already gone */
    }
  };
  if (!isProcessAlive(rec)) return true;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(rec)) return true;
    await sleep(100);
  }
  signal('SIGKILL');
  for (let i = 0; i < 50; i++) {
    if (!isProcessAlive(rec)) return true;
    await sleep(100);
  }
  return !isProcessAlive(rec);
}
