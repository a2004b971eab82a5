/**
 * TLS to PostgreSQL as libpq does it (core/pgSsl.ts): PGSSLMODE (prefer by default), PGSSLROOTCERT
 * and ~/.postgresql/root.crt, client certificates, the fallback to plain text; the launcher's
 * NODE_EXTRA_CA_CERTS for PGSSLROOTCERT=system. A setting or certificate that cannot work fails
 * the command at once, saying why, instead of being retried for minutes. PostgreSQL's own log
 * (log_connections) is the witness of whether a connection was encrypted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliOk, runCli } from '../helpers/cli';
import { createCluster, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(300_000);

let cluster: PgCluster;
let dir: string;
let env: Record<string, string | undefined>;
let home: string;

async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args, { cwd: dir });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A certificate for `cn` signed by the CA `ca`, with `ext` (openssl x509 extensions). */
async function issue(name: string, cn: string, ca: string, ext: string): Promise<void> {
  await openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
}

/** pg_hba.conf: the socket for the test's own psql, and TCP only over TLS (`options` added to those lines). */
function hba(tcp: 'hostssl' | 'host', options = ''): void {
  const lines = ['local all all trust', 'local replication all trust'];
  for (const db of ['all', 'replication']) lines.push(`${tcp} ${db} all 127.0.0.1/32 trust ${options}`);
  fs.writeFileSync(path.join(cluster.pgdata, 'pg_hba.conf'), lines.join('\n') + '\n');
}

async function reload(): Promise<void> {
  await cluster.psql('SELECT pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 500));
}

/** The server log's connection lines written while `fn` runs. */
async function connectionsDuring(fn: () => Promise<void>): Promise<string[]> {
  const log = path.join(cluster.root, 'server.log');
  const before = fs.statSync(log).size;
  await fn();
  return fs.readFileSync(log, 'utf8').slice(before).split('\n').filter((l) => /connection authorized/.test(l));
}

function freshHome(files: Record<string, string> = {}): string {
  const h = fs.mkdtempSync(path.join(dir, 'home-'));
  if (Object.keys(files).length) fs.mkdirSync(path.join(h, '.postgresql'), { mode: 0o700 });
  for (const [name, from] of Object.entries(files)) fs.copyFileSync(path.join(dir, from), path.join(h, '.postgresql', name));
  return h;
}

async function backupOk(extra: Record<string, string | undefined>): Promise<string[]> {
  return connectionsDuring(async () => {
    const r = await runCli(['backup', '--instance', 'tls', '-b', 'FULL', '--stream'], { ...env, ...extra });
    if (r.code !== 0) throw new Error(r.stderr);
    expect(r.stderr).toMatch(/INFO: Backup \w+ completed/);
  });
}

/** A backup that must fail on its first connection, not after minutes of retries. */
async function backupRefused(extra: Record<string, string | undefined>): Promise<string> {
  const started = Date.now();
  const r = await runCli(['backup', '--instance', 'tls', '-b', 'FULL', '--stream'], { ...env, ...extra });
  expect(r.code).toBe(1);
  expect(Date.now() - started).toBeLessThan(60_000);
  return r.stderr;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-'));
  await openssl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=gs_probackup test CA']);
  await openssl(['req', '-x509', ...EC, '-keyout', 'other.key', '-out', 'other.crt', '-days', '2', '-subj', '/CN=some other CA']);
  // The server's certificate names localhost, not 127.0.0.1: verify-full tells them apart, verify-ca does not.
  await issue('server', 'localhost', 'ca', 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n');
  cluster = await createCluster({
    start: false,
    conf: {
      listen_addresses: "'127.0.0.1'",
      ssl: 'on',
      ssl_cert_file: `'${dir}/server.crt'`,
      ssl_key_file: `'${dir}/server.key'`,
      // Client certificates are checked against this CA (pg_hba.conf's clientcert=).
      ssl_ca_file: `'${dir}/ca.crt'`,
      log_connections: 'on',
    },
  });
  await issue('client', os.userInfo().username, 'ca', 'basicConstraints=CA:FALSE\n');
  hba('hostssl');
  await cluster.start();
  await cluster.psql('create table t as select g from generate_series(1, 1000) g');
  home = freshHome();
  env = {
    ...cluster.env,
    PGHOST: 'localhost',
    PGSSLMODE: undefined,
    PGSSLROOTCERT: undefined,
    PGSSLCERT: undefined,
    PGSSLKEY: undefined,
    // ~/.postgresql is where libpq looks by default: each test chooses what is in it.
    HOME: home,
    XDG_CACHE_HOME: process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'),
    BACKUP_PATH: path.join(dir, 'catalog'),
    NODE_EXTRA_CA_CERTS: undefined,
    GS_PROBACKUP_EXTRA_CA_CERTS: undefined,
  };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'tls', '-D', cluster.pgdata], env);
});

afterAll(async () => {
  await cluster?.destroy();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('PGSSLMODE unset is prefer: TLS when the server offers it, for the WAL stream too', async () => {
  const lines = await backupOk({});
  expect(lines.some((l) => /replication connection authorized: .*SSL enabled/.test(l))).toBe(true);
  expect(lines.filter((l) => /application_name=gs_probackup SSL enabled/.test(l)).length).toBeGreaterThan(0);
  // hostssl only: no connection went in plain text.
  expect(lines.every((l) => /SSL enabled/.test(l))).toBe(true);
});

test('require encrypts without checking the certificate when there is no root.crt, as libpq does', async () => {
  const lines = await backupOk({ PGSSLMODE: 'require' });
  expect(lines.length).toBeGreaterThan(1);
  expect(lines.every((l) => /SSL enabled/.test(l))).toBe(true);
});

test('verify-full without a root certificate fails at once, naming the file libpq looks for', async () => {
  const stderr = await backupRefused({ PGSSLMODE: 'verify-full' });
  expect(stderr).toContain(`ERROR: could not connect to database server at localhost:${cluster.env.PGPORT}: root certificate file "${home}/.postgresql/root.crt" does not exist`);
  expect(stderr).toMatch(/PGSSLROOTCERT=system/);
});

test('require with a ~/.postgresql/root.crt of another CA checks the chain and fails at once, naming the file', async () => {
  const h = freshHome({ 'root.crt': 'other.crt' });
  const stderr = await backupRefused({ PGSSLMODE: 'require', HOME: h });
  expect(stderr).toMatch(/ERROR: could not connect to database server at localhost:\d+: (unable to verify the first certificate|unable to get local issuer certificate|self-signed certificate in certificate chain)/);
  expect(stderr).toContain(`PGSSLMODE=require: the server's certificate is checked against ${h}/.postgresql/root.crt;`);
});

test('verify-full with PGSSLROOTCERT checks the host name; verify-ca does not', async () => {
  const ca = path.join(dir, 'ca.crt');
  expect((await backupOk({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: ca })).every((l) => /SSL enabled/.test(l))).toBe(true);
  const stderr = await backupRefused({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: ca, PGHOST: '127.0.0.1' });
  expect(stderr).toMatch(/Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list/);
  expect(stderr).toContain(`checked against ${ca}, and its name against the host connected to`);
  await backupOk({ PGSSLMODE: 'verify-ca', PGSSLROOTCERT: ca, PGHOST: '127.0.0.1' });
});

test("PGSSLROOTCERT=system trusts Node's CAs and NODE_EXTRA_CA_CERTS, which the launcher moves aside", async () => {
  await backupOk({ PGSSLROOTCERT: 'system', NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.crt') });
  const stderr = await backupRefused({ PGSSLROOTCERT: 'system' });
  expect(stderr).toMatch(/PGSSLMODE=verify-full: the server's certificate is checked against Node's CAs and those of NODE_EXTRA_CA_CERTS/);
});

describe('client certificates (pg_hba.conf clientcert=verify-full)', () => {
  beforeAll(async () => {
    hba('hostssl', 'clientcert=verify-full');
    await reload();
  });
  afterAll(async () => {
    hba('hostssl');
    await reload();
  });

  test('without one, the server refuses the connection and the backup fails at once', async () => {
    const stderr = await backupRefused({});
    expect(stderr).toMatch(/ERROR: could not connect to database server at localhost:\d+: with TLS: connection requires a valid client certificate; without TLS: no pg_hba.conf entry for host "127.0.0.1", .*, no encryption/);
  });

  test('~/.postgresql/postgresql.crt and .key are sent, as libpq sends them', async () => {
    const lines = await backupOk({ HOME: freshHome({ 'postgresql.crt': 'client.crt', 'postgresql.key': 'client.key' }) });
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((l) => /SSL enabled/.test(l))).toBe(true);
  });

  test('a private key others may read is refused with libpq words', async () => {
    const h = freshHome({ 'postgresql.crt': 'client.crt', 'postgresql.key': 'client.key' });
    fs.chmodSync(path.join(h, '.postgresql', 'postgresql.key'), 0o644);
    const stderr = await backupRefused({ HOME: h });
    expect(stderr).toContain(`private key file "${h}/.postgresql/postgresql.key" has group or world access; file must have permissions u=rw (0600) or less`);
  });
});

describe('a server without TLS', () => {
  beforeAll(async () => {
    hba('host');
    await cluster.psql('ALTER SYSTEM SET ssl = off');
    await reload();
  });

  test('prefer falls back to plain text', async () => {
    const lines = await backupOk({});
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.some((l) => /SSL enabled/.test(l))).toBe(false);
  });

  test('require fails at once, saying the server has no TLS', async () => {
    const stderr = await backupRefused({ PGSSLMODE: 'require' });
    expect(stderr).toMatch(/ERROR: could not connect to database server at localhost:\d+: The server does not support SSL connections, but PGSSLMODE requires TLS/);
  });
});
