/** Stops what the run started: the Temporal test server and any cluster a failed test left running. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pgBin } from '../helpers/pgCluster';

export default async function globalTeardown(): Promise<void> {
  const runDir = process.env.GS_TEST_RUN_DIR;
  if (!runDir) return;
  const clusters = path.join(runDir, 'clusters');
  if (fs.existsSync(clusters)) {
    for (const f of fs.readdirSync(clusters)) {
      const pgdata = fs.readFileSync(path.join(clusters, f), 'utf8');
      if (fs.existsSync(path.join(pgdata, 'postmaster.pid'))) {
        spawnSync(pgBin('pg_ctl'), ['-D', pgdata, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
      }
      fs.rmSync(path.dirname(pgdata), { recursive: true, force: true });
    }
  }
  const pidFile = path.join(runDir, 'temporal.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try { process.kill(pid, 0); } catch { break; }
      await new Promise((r) => setTimeout(r, 100));
    }
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  fs.rmSync(runDir, { recursive: true, force: true });
}
