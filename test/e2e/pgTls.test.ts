/**
 * TLS to PostgreSQL: the launcher takes NODE_EXTRA_CA_CERTS out of Node's start-up (bin/gs_probackup)
 * and the connections still trust its CAs. A certificate that does not verify fails the command at
 * once, saying why and what PGSSLMODE does, instead of being retried for minutes.
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

async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args, { cwd: dir });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=gs_probackup test CA']);
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext']);
  fs.chmodSync(path.join(dir, 'server.key'), 0o600);
  cluster = await createCluster({
    start: false,
    conf: {
      listen_addresses: "'127.0.0.1'",
      ssl: 'on',
      ssl_cert_file: `'${dir}/server.crt'`,
      ssl_key_file: `'${dir}/server.key'`,
      log_connections: 'on',
    },
  });
  // TCP connections must use TLS: a connection that fell back to plain text would be refused.
  fs.appendFileSync(path.join(cluster.pgdata, 'pg_hba.conf'), 'hostssl all all 127.0.0.1/32 trust\nhostssl replication all 127.0.0.1/32 trust\n');
  await cluster.start();
  await cluster.psql('create table t as select g from generate_series(1, 1000) g');
  env = {
    ...cluster.env,
    PGHOST: 'localhost',
    PGSSLMODE: 'require',
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

test('a server certificate Node cannot verify fails the backup at once, naming the cause and PGSSLMODE', async () => {
  const started = Date.now();
  const r = await runCli(['backup', '--instance', 'tls', '-b', 'FULL', '--stream'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/ERROR: .*could not connect to database server at localhost:\d+: (unable to verify the first certificate|self-signed certificate in certificate chain)/);
  expect(r.stderr).toMatch(/PGSSLMODE=require: the server's certificate is checked against Node's CAs and those of NODE_EXTRA_CA_CERTS/);
  // Not retried: one attempt, where a retryable failure would back off for minutes.
  expect(Date.now() - started).toBeLessThan(60_000);
});

test('NODE_EXTRA_CA_CERTS naming the CA lets the backup connect over TLS, its WAL stream too', async () => {
  const r = await runCli(['backup', '--instance', 'tls', '-b', 'FULL', '--stream'], { ...env, NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.crt') });
  if (r.code !== 0) throw new Error(r.stderr);
  expect(r.stderr).toMatch(/INFO: Backup \w+ completed/);
  // PostgreSQL's word that the connections were encrypted (log_connections), the replication one too.
  const log = fs.readFileSync(path.join(cluster.root, 'server.log'), 'utf8');
  expect(log).toMatch(/replication connection authorized: .*SSL enabled/);
  expect(log).toMatch(/connection authorized: user=\S+ database=postgres application_name=gs_probackup SSL enabled/);
});
