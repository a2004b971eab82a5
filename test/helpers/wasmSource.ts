import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * What scripts/build-wasm.sh records of a C module's source: SHA-256 of the .c file, then of each
 * header it includes with quotes (from its own directory), in order. A test compares it with the
 * generated module's, so that a module older than its source fails.
 */
export function wasmSourceDigest(cFile: string): string {
  const source = readFileSync(cFile);
  const h = createHash('sha256').update(source);
  for (const m of source.toString('utf8').matchAll(/^#include "([^"]+)"/gm)) h.update(readFileSync(path.join(path.dirname(cFile), m[1])));
  return h.digest('hex');
}
