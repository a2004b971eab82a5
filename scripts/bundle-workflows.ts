/**
 * Bundles every workflow into dist/workflow-bundle.js once at build time, so neither the CLI's
 * in-process worker nor `gs_probackup worker` pays webpack's seconds on each start.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const out = process.argv[2] ?? path.join(root, 'dist', 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(root, 'workflows', 'index.ts'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) },
    // The worker requires an inline source map and parses it, and compiles the bundle, on every
    // start: without the embedded sources it is half the size (stack traces still map to them).
    webpackConfigHook: (config) => ({ ...config, devtool: 'inline-nosources-source-map' }),
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(`${out}.tmp`, code);
  fs.renameSync(`${out}.tmp`, out);
}

main().catch((e) => {
  console.error(`ERROR: bundling workflows failed: ${(e as Error).message}`);
  process.exit(1);
});
