/**
 * The jest run's shared Temporal dev server: the real `temporal` binary (the one the CLI would use),
 * on free ports, state in a temp dir, started in its own process group so teardown can stop it whole.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { devServerArgs } from '../../client/temporal/embeddedServer';
import { temporalCliPath } from '../../client/temporal/installPaths';
import { freePort } from './pgCluster';

export interface TestTemporal {
  address: string;
  pid: number;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export async function startTestTemporal(dir: string): Promise<TestTemporal> {
  const port = await freePort();
  const uiPort = await freePort();
  const log = fs.openSync(path.join(dir, 'temporal.log'), 'a');
  const child = spawn(temporalCliPath(), devServerArgs({ port, uiPort, db: path.join(dir, 'temporal.db') }), {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await canConnect(port)) {
      // The frontend listens before the namespace is ready; give it a moment.
      await new Promise((r) => setTimeout(r, 1500));
      return { address: `127.0.0.1:${port}`, pid: child.pid! };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
  throw new Error(`the Temporal dev server did not start: ${fs.readFileSync(path.join(dir, 'temporal.log'), 'utf8').slice(-2000)}`);
}
