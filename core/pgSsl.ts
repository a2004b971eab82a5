/**
 * TLS to PostgreSQL as libpq decides it, from its environment variables (PGSSLMODE, PGSSLROOTCERT,
 * PGSSLCERT, PGSSLKEY, PGSSLCRL and their ~/.postgresql defaults). pg_probackup and gs_probackup are
 * libpq programs: their users' settings (a self-signed server with PGSSLMODE=require, a root.crt
 * that makes require check the chain, the default `prefer`) must mean here what they mean to psql.
 * node-postgres reads PGSSLMODE otherwise (every mode checks the certificate against Node's CAs,
 * none is the default), so the connections get their TLS options from this plan instead.
 */
import * as path from 'node:path';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Whose certificates vouch for the server: a PEM file, the system's store, or nobody (encryption only). */
export type SslTrust = { kind: 'file'; path: string } | { kind: 'system' } | { kind: 'none' };

export interface SslPlan {
  /** The mode in force (node-postgres's `no-verify` reads as `require` without a root certificate). */
  mode: SslMode;
  /** What the first connection attempt does. */
  first: 'tls' | 'plain';
  /**
   * Whether a failed first attempt is made again the other way: `prefer` falls back to plain text
   * when TLS fails (the server has none, or its certificate does not verify), `allow` to TLS when
   * the server refuses plain text.
   */
  fallback: boolean;
  trust: SslTrust;
  /** verify-full: the certificate must name the host connected to. */
  checkHost: boolean;
  /** A client certificate for the server's `cert` authentication or clientcert=. */
  clientCert?: { cert: string; key: string };
  /** Revoked certificates (read only when a root certificate is, as libpq does). */
  crl?: string;
}

/** A setting libpq itself would refuse: the connection is not attempted. */
export class SslConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SslConfigError';
  }
}

/** A Unix-domain socket: libpq never uses TLS there, whatever PGSSLMODE says. */
function isUnixSocketHost(host: string): boolean {
  return host.startsWith('/') || host.startsWith('@');
}

/**
 * The plan for one connection to `host`. `exists` answers whether a file is there (the only side
 * effect, passed in); `home` is the user's home directory.
 */
export function planSsl(
  env: Readonly<Record<string, string | undefined>>,
  host: string,
  home: string,
  exists: (file: string) => boolean,
): SslPlan {
  const given = env.PGSSLMODE === '' ? undefined : env.PGSSLMODE;
  // libpq's default files are in ~/.postgresql.
  const dir = path.join(home, '.postgresql');
  const rootSetting = env.PGSSLROOTCERT || path.join(dir, 'root.crt');
  const system = rootSetting === 'system';
  if (given !== undefined && given !== 'no-verify' && !(SSL_MODES as readonly string[]).includes(given)) {
    throw new SslConfigError(`invalid sslmode value: "${given}" (PGSSLMODE takes ${SSL_MODES.join(', ')})`);
  }
  // PostgreSQL 16's rule: the system's store is trusted for the names it vouches for, or not at all.
  if (system && given !== undefined && given !== 'verify-full') {
    throw new SslConfigError(`weaker sslmode "${given}" may not be used with sslrootcert=system (use "verify-full")`);
  }
  const mode: SslMode = given === 'no-verify' ? 'require' : ((given ?? (system ? 'verify-full' : 'prefer')) as SslMode);
  if (mode === 'disable' || isUnixSocketHost(host)) return { mode, first: 'plain', fallback: false, trust: { kind: 'none' }, checkHost: false };

  let trust: SslTrust;
  if (given === 'no-verify') trust = { kind: 'none' };
  else if (system) trust = { kind: 'system' };
  else if (exists(rootSetting)) trust = { kind: 'file', path: rootSetting };
  else if (mode === 'verify-ca' || mode === 'verify-full') {
    throw new SslConfigError(
      `root certificate file "${rootSetting}" does not exist; either provide the file (PGSSLROOTCERT), use the system's ` +
        `trusted roots with PGSSLROOTCERT=system, or change PGSSLMODE to disable server certificate verification`,
    );
  } else trust = { kind: 'none' };

  const plan: SslPlan = {
    mode,
    first: mode === 'allow' ? 'plain' : 'tls',
    fallback: mode === 'allow' || mode === 'prefer',
    trust,
    checkHost: mode === 'verify-full',
  };
  const cert = env.PGSSLCERT || path.join(dir, 'postgresql.crt');
  if (exists(cert)) {
    const key = env.PGSSLKEY || path.join(dir, 'postgresql.key');
    if (!exists(key)) throw new SslConfigError(`certificate present, but not private key file "${key}" (PGSSLCERT is ${cert}; PGSSLKEY names the key)`);
    plan.clientCert = { cert, key };
  }
  const crl = env.PGSSLCRL || path.join(dir, 'root.crl');
  if (trust.kind === 'file' && exists(crl)) plan.crl = crl;
  return plan;
}

/** How the plan checks the server, in the words of an error message. */
export function describeTrust(plan: SslPlan): string {
  const t = plan.trust;
  const host = plan.checkHost ? ', and its name against the host connected to' : '';
  if (t.kind === 'file') return `the server's certificate is checked against ${t.path}${host}`;
  if (t.kind === 'system') return `the server's certificate is checked against Node's CAs and those of NODE_EXTRA_CA_CERTS${host}`;
  return "the server's certificate is not checked";
}
