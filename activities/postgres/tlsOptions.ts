/**
 * node-postgres's `ssl` option for one attempt of an SslPlan (core/pgSsl.ts): the files it names
 * read into one TLS context, made once per set of files (a `ca` list would be parsed again by every
 * connection, and a backup opens several).
 */
import * as fs from 'node:fs';
import type { ConnectionOptions, SecureContext } from 'node:tls';
import { SslConfigError, type SslPlan } from '../../core/pgSsl';

export type NodePgSsl = false | (Pick<ConnectionOptions, 'rejectUnauthorized' | 'checkServerIdentity'> & { secureContext?: SecureContext });

const contexts = new Map<string, SecureContext>();

/** The `ssl` option for an attempt with TLS under `plan`; `extraCaFile` is NODE_EXTRA_CA_CERTS's file, which the launcher moved aside. */
export function tlsOptions(plan: SslPlan, extraCaFile: string | undefined): NodePgSsl {
  const files: { ca?: string; cert?: string; key?: string; crl?: string; extra?: string } = {};
  if (plan.trust.kind === 'file') files.ca = plan.trust.path;
  if (plan.trust.kind === 'system' && extraCaFile) files.extra = extraCaFile;
  if (plan.clientCert) {
    checkKeyPermissions(plan.clientCert.key);
    files.cert = plan.clientCert.cert;
    files.key = plan.clientCert.key;
  }
  if (plan.crl) files.crl = plan.crl;
  const verify = plan.trust.kind !== 'none';
  const secureContext = verify || plan.clientCert ? contextFor(files, plan.trust.kind === 'system') : undefined;
  return {
    ...(secureContext ? { secureContext } : {}),
    rejectUnauthorized: verify,
    // verify-ca and a root.crt under prefer/require check the chain, not the name (libpq's rule).
    ...(verify && !plan.checkHost ? { checkServerIdentity: () => undefined } : {}),
  };
}

function contextFor(files: Record<string, string | undefined>, system: boolean): SecureContext {
  // Keyed by the files' change times too: a long-running worker sees a renewed certificate.
  const key = JSON.stringify([system, Object.entries(files).map(([k, f]) => [k, f, f ? mtime(f) : 0])]);
  let context = contexts.get(key);
  if (context) return context;
  const tls = require('node:tls') as typeof import('node:tls');
  const read = (what: string, file: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new SslConfigError(`could not read ${what} "${file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const ca: string[] = [];
  if (system) ca.push(...tls.rootCertificates);
  if (files.ca) ca.push(read('root certificate file', files.ca));
  if (files.extra) {
    try {
      ca.push(fs.readFileSync(files.extra, 'utf8'));
    } catch (e) {
      // What Node does with an unreadable NODE_EXTRA_CA_CERTS: warn, and trust its bundled CAs only.
      process.emitWarning(`Ignoring extra certs from \`${files.extra}\`, load failed: ${(e as Error).message}`);
    }
  }
  try {
    context = tls.createSecureContext({
      ...(ca.length ? { ca } : {}),
      ...(files.cert ? { cert: read('certificate file', files.cert), key: read('private key file', files.key as string) } : {}),
      ...(files.crl ? { crl: read('certificate revocation list file', files.crl) } : {}),
    });
  } catch (e) {
    if (e instanceof SslConfigError) throw e;
    const named = Object.entries(files).filter(([, f]) => f).map(([k, f]) => `${k} ${f}`).join(', ');
    throw new SslConfigError(`could not load the TLS files (${named}): ${(e as Error).message}`);
  }
  contexts.set(key, context);
  return context;
}

function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** libpq refuses a private key others may read; so do we, with its words. */
function checkKeyPermissions(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new SslConfigError(`could not read private key file "${file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isFile()) throw new SslConfigError(`private key file "${file}" is not a regular file`);
  const uid = process.getuid?.();
  const tooOpen = st.uid === 0 ? (st.mode & 0o037) !== 0 : st.uid === uid && (st.mode & 0o077) !== 0;
  if (tooOpen) {
    throw new SslConfigError(
      `private key file "${file}" has group or world access; file must have permissions u=rw (0600) or less if owned by the ` +
        'current user, or permissions u=rw,g=r (0640) or less if owned by root',
    );
  }
}
