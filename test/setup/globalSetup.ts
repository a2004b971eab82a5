/**
 * Once per jest run: a real Temporal dev server on free ports with its SQLite file in a temp dir
 * (TEMPORAL_TEST_ADDRESS), and a run directory where clusters register for teardown.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestTemporal } from '../helpers/temporalServer';

export default async function globalSetup(): Promise<void> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gs-test-run-'));
  process.env.GS_TEST_RUN_DIR = runDir;
  // Each test's catalog has its own embedded server: one left lingering per catalog would pile up.
  // embeddedServer.test.ts tests the linger itself.
  process.env.GS_PROBACKUP_SERVER_LINGER ??= '0';
  // Data files larger than 1 MiB are copied in pieces (64 MiB by default), so that every backup
  // test goes through both ways of copying a data file.
  process.env.GS_PROBACKUP_PIECE_BLOCKS ??= '128';
  const server = await startTestTemporal(runDir);
  process.env.TEMPORAL_TEST_ADDRESS = server.address;
  fs.writeFileSync(path.join(runDir, 'temporal.pid'), String(server.pid));
}
