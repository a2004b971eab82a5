/**
 * Issue 3's acceptance: FULL backup and restore of a real PostgreSQL 15 through the real CLI, with
 * the workflows on a real Temporal server (embedded mode: the CLI starts it under the catalog).
 * The oracle is the data: pg_dump of the restored server equals the source's, pg_checksums and
 * pg_amcheck are clean.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';
import { cliOk, runCli } from '../helpers/cli';

jest.setTimeout(900_000);

function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a restored data directory on a free port with its own socket dir. */
async function startRestored(pgdata: string): Promise<{ port: number; socketDir: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const socketDir = fs.mkdtempSync('/tmp/pgr');
  const logFile = path.join(socketDir, 'log');
  const r = await run(pgBin('pg_ctl'), [
    '-D', pgdata, '-w', '-t', '120', '-l', logFile,
    '-o', `-p ${port} -k ${socketDir} -c listen_addresses=''`, 'start',
  ]);
  if (r.code !== 0) throw new Error(`restored server did not start: ${r.stderr}\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''}`);
  return {
    port,
    socketDir,
    stop: async () => {
      await run(pgBin('pg_ctl'), ['-D', pgdata, '-w', '-m', 'fast', 'stop']);
    },
  };
}

async function dumpAll(host: string, port: number, dbs: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const db of dbs) {
    const r = await run(pgBin('pg_dump'), ['-h', host, '-p', String(port), '--no-sync', '--no-unlogged-table-data', '-d', db]);
    if (r.code !== 0) throw new Error(`pg_dump ${db}: ${r.stderr}`);
    // pg_dump ≥ 15.14 frames its output with a random \restrict key: not part of the data.
    out[db] = r.stdout.replace(/^\\(un)?restrict .*$/gm, '');
  }
  return out;
}

async function psqlAt(host: string, port: number, sql: string, db = 'postgres'): Promise<string> {
  const r = await run(pgBin('psql'), ['-XAtq', '-h', host, '-p', String(port), '-d', db, '-c', sql]);
  if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

function treeSnapshot(dir: string): string[] {
  if (!fs.existsSync(dir)) return ['<absent>'];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.mode} ${st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('FULL backup and restore (quiet cluster)', () => {
  let cluster: PgCluster;
  let backupPath: string;
  let tsDir: string;
  let extDir: string;
  let env: Record<string, string>;
  let backupId: string;
  let sourceDumps: Record<string, string>;
  const work: string[] = [];

  beforeAll(async () => {
    cluster = await createCluster({ pgbenchScale: 10 });
    tsDir = tmpDir('ts-');
    extDir = tmpDir('ext-');
    fs.writeFileSync(path.join(extDir, 'script.sh'), '#!/bin/sh\necho hello\n', { mode: 0o750 });
    fs.mkdirSync(path.join(extDir, 'sub'));
    fs.writeFileSync(path.join(extDir, 'sub', 'dump.sql'), 'select 1;\n');
    await cluster.psql(`CREATE TABLESPACE tbs LOCATION '${tsDir}'`);
    await cluster.psql(`CREATE DATABASE app`);
    await cluster.psql(
      `CREATE TABLE items TABLESPACE tbs AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g;
       CREATE INDEX items_v ON items(v);
       CREATE UNLOGGED TABLE scratch AS SELECT g FROM generate_series(1, 1000) g;`,
      'app',
    );
    backupPath = path.join(tmpDir('cat-'), 'catalog');
    env = { ...cluster.env, BACKUP_PATH: backupPath };
    work.push(tsDir, extDir, path.dirname(backupPath));
  });

  afterAll(async () => {
    await cluster?.destroy();
    for (const d of work) fs.rmSync(d, { recursive: true, force: true });
  });

  test('init, add-instance, backup -b FULL, show', async () => {
    await cliOk(['init', '-B', backupPath], env);
    await cliOk(['add-instance', '--instance', 'node', '-D', cluster.pgdata, '-E', extDir], env);
    const b = await cliOk(['backup', '--instance', 'node', '-b', 'FULL', '--stream', '-j', '2', '-W', 'S3cr3t-pa55word'], env);
    const m = /INFO: Backup (\w+) completed/.exec(b.stderr);
    expect(m).not.toBeNull();
    backupId = m![1];
    sourceDumps = await dumpAll(cluster.socketDir, cluster.port, ['postgres', 'app']);

    // No password in workflow history: the embedded server's files hold the history (the
    // instance's data directory path is there, as a check that the search can find things).
    const temporalDir = path.join(backupPath, '.temporal');
    const stored = fs.readdirSync(temporalDir).filter((f) => f.startsWith('temporal.db')).map((f) => fs.readFileSync(path.join(temporalDir, f)));
    expect(stored.some((buf) => buf.includes(cluster.pgdata))).toBe(true);
    expect(stored.some((buf) => buf.includes('S3cr3t-pa55word'))).toBe(false);

    const show = await cliOk(['show', '--instance', 'node'], env);
    expect(show.stdout).toMatch(new RegExp(`${backupId}\\s.*FULL\\s+STREAM\\s+1/0.*OK`));
    const json = JSON.parse((await cliOk(['show', '--instance', 'node', '--format=json'], env)).stdout);
    const entry = json[0].backups.find((x: { id: string }) => x.id === backupId);
    expect(entry.status).toBe('OK');
    expect(entry['backup-mode']).toBe('FULL');
    expect(entry['wal']).toBe('STREAM');
    const detail = await cliOk(['show', '--instance', 'node', '-i', backupId], env);
    expect(detail.stdout).toMatch(/status = OK/);
    expect(detail.stdout).toMatch(/tablespace_map = /);
  });

  test('restore with -T and --external-mapping; restored server equals the source', async () => {
    const target = tmpDir('restore-');
    const newTs = tmpDir('newts-');
    const newExt = tmpDir('newext-');
    fs.rmdirSync(newExt);
    work.push(target, newTs, newExt);
    await cliOk(
      ['restore', '--instance', 'node', '-D', target, '-i', backupId, '-j', '2',
        '-T', `${tsDir}=${newTs}`, `--external-mapping=${extDir}=${newExt}`],
      env,
    );
    expect(fs.readlinkSync(path.join(target, 'pg_tblspc', fs.readdirSync(path.join(target, 'pg_tblspc'))[0]))).toBe(newTs);
    expect(fs.readFileSync(path.join(newExt, 'sub', 'dump.sql'), 'utf8')).toBe('select 1;\n');
    expect(fs.statSync(path.join(newExt, 'script.sh')).mode & 0o777).toBe(0o750);

    const srv = await startRestored(target);
    try {
      const dumps = await dumpAll(srv.socketDir, srv.port, ['postgres', 'app']);
      expect(dumps.postgres).toEqual(sourceDumps.postgres);
      expect(dumps.app).toEqual(sourceDumps.app);
      // Unlogged tables come back empty, as after a crash.
      expect(await psqlAt(srv.socketDir, srv.port, 'select count(*) from scratch', 'app')).toBe('0');
      const amcheck = await run(pgBin('pg_amcheck'), ['-h', srv.socketDir, '-p', String(srv.port), '--install-missing', '--all', '--heapallindexed']);
      expect(amcheck.stderr + amcheck.stdout).toBe('');
      expect(amcheck.code).toBe(0);
    } finally {
      await srv.stop();
    }
    const checksums = await run(pgBin('pg_checksums'), ['--check', '-D', target]);
    expect(checksums.stderr).toBe('');
    expect(checksums.code).toBe(0);
  });

  describe('refusals leave everything untouched', () => {
    test('non-empty target directory', async () => {
      const target = tmpDir('nonempty-');
      work.push(target);
      fs.writeFileSync(path.join(target, 'precious'), 'data');
      const before = treeSnapshot(target);
      const r = await runCli(['restore', '--instance', 'node', '-D', target, '-i', backupId], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/ERROR: .*(not empty|is not empty)/);
      expect(treeSnapshot(target)).toEqual(before);
    });

    test('data directory of a running server', async () => {
      const before = treeSnapshot(cluster.pgdata).filter((l) => !l.startsWith('pg_') && !l.startsWith('base') && !l.startsWith('global'));
      const r = await runCli(['restore', '--instance', 'node', '-D', cluster.pgdata, '-i', backupId], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/ERROR: .*running/);
      expect(treeSnapshot(cluster.pgdata).filter((l) => !l.startsWith('pg_') && !l.startsWith('base') && !l.startsWith('global'))).toEqual(before);
    });

    test('backup whose status is not OK, unless --force', async () => {
      const ctl = path.join(backupPath, 'backups', 'node', backupId, 'backup.control');
      const orig = fs.readFileSync(ctl, 'utf8');
      fs.writeFileSync(ctl, orig.replace('status = OK', 'status = ERROR'));
      try {
        const target = tmpDir('status-');
        fs.rmdirSync(target);
        work.push(target);
        const r = await runCli(['restore', '--instance', 'node', '-D', target, '-i', backupId], env);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`ERROR: .*${backupId}.*ERROR`));
        expect(fs.existsSync(target) ? fs.readdirSync(target) : []).toEqual([]);
      } finally {
        fs.writeFileSync(ctl, orig);
      }
    });

    test('backup of another system identifier', async () => {
      const conf = path.join(backupPath, 'backups', 'node', 'pg_probackup.conf');
      const orig = fs.readFileSync(conf, 'utf8');
      fs.writeFileSync(conf, orig.replace(/system-identifier = \d+/, 'system-identifier = 1234567890123456789'));
      try {
        const target = tmpDir('sysid-');
        fs.rmdirSync(target);
        work.push(target);
        const r = await runCli(['restore', '--instance', 'node', '-D', target, '-i', backupId], env);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/ERROR: .*system identifier/i);
        expect(fs.existsSync(target) ? fs.readdirSync(target) : []).toEqual([]);
      } finally {
        fs.writeFileSync(conf, orig);
      }
    });
  });
});

describe('FULL backup of a busy cluster', () => {
  let cluster: PgCluster;
  const work: string[] = [];
  afterAll(async () => {
    await cluster?.destroy();
    for (const d of work) fs.rmSync(d, { recursive: true, force: true });
  });

  test('pgbench -c 4 writes throughout a -j 2 --progress --compress backup; restored data keeps pgbench invariants', async () => {
    cluster = await createCluster({ pgbenchScale: 10 });
    const backupPath = path.join(tmpDir('cat-'), 'catalog');
    work.push(path.dirname(backupPath));
    const env = { ...cluster.env, BACKUP_PATH: backupPath };
    await cliOk(['init'], env);
    await cliOk(['add-instance', '--instance', 'busy', '-D', cluster.pgdata], env);

    const bench = run(pgBin('pgbench'), ['-h', cluster.socketDir, '-p', String(cluster.port), '-c', '4', '-j', '2', '-T', '600', '-n', 'postgres']);
    let benchDone = false;
    void bench.then(() => (benchDone = true));
    await new Promise((r) => setTimeout(r, 2000));
    // zlib level 1: the pages go through core/pageDeflate.c; the restored data is the oracle.
    const b = await runCli(['backup', '--instance', 'busy', '-b', 'FULL', '--stream', '-j', '2', '--progress', '--compress'], env);
    // Stop the load only after the backup is over: it wrote throughout.
    expect(benchDone).toBe(false);
    await cluster.psql(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'pgbench'`);
    await bench;
    if (b.code !== 0) throw new Error(`backup failed:\n${b.stderr}`);
    const id = /INFO: Backup (\w+) completed/.exec(b.stderr)![1];
    expect(b.stderr).toMatch(/Progress|%|files/);

    const target = tmpDir('busy-restore-');
    fs.rmdirSync(target);
    work.push(target);
    await cliOk(['restore', '--instance', 'busy', '-D', target, '-i', id, '-j', '2'], env);
    const srv = await startRestored(target);
    try {
      const sums = await psqlAt(
        srv.socketDir, srv.port,
        `select (select sum(abalance) from pgbench_accounts), (select sum(tbalance) from pgbench_tellers),
                (select sum(bbalance) from pgbench_branches), (select coalesce(sum(delta),0) from pgbench_history),
                (select count(*) from pgbench_history)`,
      );
      const [a, t, br, h, n] = sums.split('|');
      expect(Number(n)).toBeGreaterThan(0);
      expect(a).toBe(t);
      expect(t).toBe(br);
      expect(br).toBe(h);
      const amcheck = await run(pgBin('pg_amcheck'), ['-h', srv.socketDir, '-p', String(srv.port), '--install-missing', '--all']);
      expect(amcheck.code).toBe(0);
    } finally {
      await srv.stop();
    }
  });
});

describe('replication slots and restore choices', () => {
  let cluster: PgCluster;
  let env: Record<string, string>;
  const work: string[] = [];
  beforeAll(async () => {
    cluster = await createCluster({ pgbenchScale: 1 });
    const backupPath = path.join(tmpDir('cat-'), 'catalog');
    work.push(path.dirname(backupPath));
    env = { ...cluster.env, BACKUP_PATH: backupPath };
    await cliOk(['init'], env);
    const ext = tmpDir('ext-');
    work.push(ext);
    fs.writeFileSync(path.join(ext, 'note.txt'), 'hi\n');
    await cliOk(['add-instance', '--instance', 's', '-D', cluster.pgdata, '-E', ext], env);
  });
  afterAll(async () => {
    await cluster?.destroy();
    for (const d of work) fs.rmSync(d, { recursive: true, force: true });
  });

  test('-S with a missing slot is refused; -S with a slot and --temp-slot back up; no slot of ours is left', async () => {
    const missing = await runCli(['backup', '--instance', 's', '-b', 'FULL', '--stream', '-S', 'nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ERROR: .*replication slot "nope" does not exist/);
    await cluster.psql(`select pg_create_physical_replication_slot('dba_slot', true)`);
    await cliOk(['backup', '--instance', 's', '-b', 'FULL', '--stream', '-S', 'dba_slot', '--no-validate'], env);
    await cliOk(['backup', '--instance', 's', '-b', 'FULL', '--stream', '--temp-slot'], env);
    expect(await cluster.psql(`select string_agg(slot_name, ',' order by slot_name) from pg_replication_slots`)).toBe('dba_slot');
  });

  test('-C, --backup-pg-log, --backup-pg-replslot, --note, --ttl, --no-sync, --archive-timeout, -t reach the backup', async () => {
    fs.mkdirSync(path.join(cluster.pgdata, 'log'), { recursive: true });
    fs.writeFileSync(path.join(cluster.pgdata, 'log', 'postgresql-test.log'), 'LOG:  hello\n');
    const b = await cliOk([
      'backup', '--instance', 's', '-b', 'FULL', '--stream', '-C', '--backup-pg-log', '--backup-pg-replslot',
      '--note', 'before upgrade', '--ttl=1d', '--no-sync', '--archive-timeout=60', '-t', '30',
    ], env);
    const id = /INFO: Backup (\w+) completed/.exec(b.stderr)![1];
    const json = JSON.parse((await cliOk(['show', '--instance', 's', '--format=json'], env)).stdout);
    const entry = json[0].backups.find((x: { id: string }) => x.id === id);
    expect(entry).toMatchObject({ status: 'OK', note: 'before upgrade' });
    // Pinned for a day from the backup's recovery time.
    const expire = Date.parse(entry['expire-time'].replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
    const recovery = Date.parse(entry['recovery-time'].replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
    expect(expire - recovery).toBe(86_400_000);
    const content = (backupId: string) => fs.readFileSync(path.join(env.BACKUP_PATH, 'backups', 's', backupId, 'backup_content.control'), 'utf8');
    expect(content(id)).toContain('"path":"log/postgresql-test.log"');
    expect(content(id)).toContain('"path":"pg_replslot/dba_slot/state"');
    // Without the flags neither is taken (the backup made with -S dba_slot, before the log existed
    // but after the slot did).
    const plain = json[0].backups.find((x: { id: string; status: string }) => x.id !== id && x.status === 'OK').id;
    expect(content(plain)).not.toContain('"path":"pg_replslot/dba_slot/state"');
    expect(content(plain)).toContain('"path":"pg_replslot"');
  });

  test('restore without -i takes the latest OK backup; --skip-external-dirs leaves external directories out', async () => {
    const json = JSON.parse((await cliOk(['show', '--instance', 's', '--format=json'], env)).stdout);
    const latest = json[0].backups.find((b: { status: string }) => b.status === 'OK').id;
    const target = tmpDir('latest-');
    fs.rmdirSync(target);
    work.push(target);
    // The external directory is still in place (not empty): restoring it there is refused...
    const refused = await runCli(['restore', '--instance', 's', '-D', target], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/restore destination is not empty: ".*ext-.*"/);
    expect(fs.existsSync(target)).toBe(false);
    // ...and left out with --skip-external-dirs.
    const r = await cliOk(['restore', '--instance', 's', '-D', target, '--skip-external-dirs'], env);
    expect(r.stderr).toMatch(new RegExp(`Restore of backup ${latest} completed`));
    expect(fs.readdirSync(target)).toContain('PG_VERSION');
    expect(r.stderr).not.toMatch(/external/i);
    const control = fs.readFileSync(path.join(env.BACKUP_PATH, 'backups', 's', latest, 'backup.control'), 'utf8');
    expect(control).toMatch(/external-dirs = '/);
  });
});
