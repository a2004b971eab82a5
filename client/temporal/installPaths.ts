/**
 * Where the installation's own files are: the repository root (source tree or the directory that
 * holds dist/), the prebuilt workflow bundle and the `temporal` CLI used for the embedded server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError } from '../errors';

const PACKAGE_NAME = 'gs-probackup-temporal';
let cachedRoot: string | undefined;

/** Walks up from this file to the package.json of this project (works from source and from dist/). */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    try {
      if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === PACKAGE_NAME) return (cachedRoot = dir);
    } catch {
      /* not here */
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${PACKAGE_NAME} installation above ${__dirname}`);
    dir = up;
  }
}

/** WORKFLOW_BUNDLE_PATH, else <root>/dist/workflow-bundle.js (made by `npm run build`). */
export function workflowBundlePath(env: Record<string, string | undefined> = process.env): string {
  return env.WORKFLOW_BUNDLE_PATH || path.join(repoRoot(), 'dist', 'workflow-bundle.js');
}

/** The launcher, bin/gs_probackup: what restore_command and archive_command run. */
export function launcherPath(): string {
  return path.join(repoRoot(), 'bin', 'gs_probackup');
}

function onPath(name: string, env: Record<string, string | undefined>): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** The `temporal` CLI: $TEMPORAL_CLI, else <root>/.tools/bin/temporal, else `temporal` on PATH. */
export function temporalCliPath(env: Record<string, string | undefined> = process.env): string {
  const explicit = env.TEMPORAL_CLI;
  if (explicit) {
    try {
      fs.accessSync(explicit, fs.constants.X_OK);
      return explicit;
    } catch {
      throw new CliError(`TEMPORAL_CLI is "${explicit}", which is not an executable file: point it at the "temporal" program, or unset it`);
    }
  }
  const bundled = path.join(repoRoot(), '.tools', 'bin', 'temporal');
  try {
    fs.accessSync(bundled, fs.constants.X_OK);
    return bundled;
  } catch {
    /* fall through */
  }
  const found = onPath('temporal', env);
  if (found) return found;
  throw new CliError(
    `cannot find the "temporal" program for the embedded Temporal server (looked at TEMPORAL_CLI, ${bundled} and PATH): ` +
      `install it (npm run setup), set TEMPORAL_CLI to its path, or set TEMPORAL_ADDRESS to use a running Temporal server`,
  );
}
