/**
 * validate against real damage on disk: each kind makes the backup CORRUPT (show says so, restore
 * refuses it unless --force), and undoing the damage makes it OK again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backupContentCrc, parseBackupContent, serializeBackupContent } from '../../core/backupContent';
import { crc32c } from '../../core/crc32c';
import { cliOk, runCli } from '../helpers/cli';
import { createCluster, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;
let backupPath: string;
let env: Record<string, string>;
let id: string;
let dir: string;

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 2 });
  backupPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'val-')), 'catalog');
  env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'v', '-D', cluster.pgdata], env);
  const b = await cliOk(['backup', '--instance', 'v', '-b', 'FULL', '--stream', '--compress', '-j', '2'], env);
  id = /INFO: Backup (\w+) completed/.exec(b.stderr)![1];
  dir = path.join(backupPath, 'backups', 'v', id);
});

afterAll(async () => {
  await cluster?.destroy();
  fs.rmSync(path.dirname(backupPath), { recursive: true, force: true });
});

function entries() {
  return parseBackupContent(fs.readFileSync(path.join(dir, 'backup_content.control'), 'utf8'), 'backup_content.control');
}

function biggestDataFile(): string {
  const e = entries().filter((x) => x.isDatafile && x.size > 0).sort((a, b) => b.size - a.size)[0];
  expect(e.compressAlg).toBe('zlib');
  return path.join(dir, 'database', e.path);
}

async function status(): Promise<string> {
  const j = JSON.parse((await cliOk(['show', '--instance', 'v', '--format=json'], env)).stdout);
  return j[0].backups.find((b: { id: string }) => b.id === id).status;
}

async function expectCorrupt(message: RegExp): Promise<void> {
  const r = await runCli(['validate', '--instance', 'v', '-i', id], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(new RegExp(`ERROR: Backup ${id} is corrupt`));
  expect(await status()).toBe('CORRUPT');
}

async function expectValid(): Promise<void> {
  const r = await runCli(['validate', '--instance', 'v', '-i', id], env);
  if (r.code !== 0) throw new Error(r.stderr);
  expect(r.stderr).toMatch(new RegExp(`INFO: Backup ${id} is valid`));
  expect(await status()).toBe('OK');
}

function withDamage(name: string, damage: () => () => void, message: RegExp) {
  test(name, async () => {
    const undo = damage();
    try {
      await expectCorrupt(message);
    } finally {
      undo();
    }
    await expectValid();
  });
}

test('a fresh backup validates (all instances and one backup)', async () => {
  const r = await cliOk(['validate'], env);
  expect(r.stderr).toMatch(/INFO: All backups are valid/);
  await expectValid();
});

withDamage('a missing file', () => {
  const f = path.join(dir, 'database', 'PG_VERSION');
  fs.renameSync(f, `${f}.away`);
  return () => fs.renameSync(`${f}.away`, f);
}, /PG_VERSION" is missing/);

withDamage('a truncated data file', () => {
  const f = biggestDataFile();
  const orig = fs.readFileSync(f);
  fs.truncateSync(f, orig.length - 100);
  return () => fs.writeFileSync(f, orig);
}, /has size \d+, backup_content.control says \d+|truncated/);

withDamage('a flipped byte in a data file', () => {
  const f = biggestDataFile();
  const orig = fs.readFileSync(f);
  const bad = Buffer.from(orig);
  bad[Math.floor(bad.length / 2)] ^= 0x40;
  fs.writeFileSync(f, bad);
  return () => fs.writeFileSync(f, orig);
}, /is damaged|cannot decompress|page verification failed/);

withDamage('a corrupt compressed page whose file CRC was made to match (page-level check)', () => {
  const f = biggestDataFile();
  const rel = path.relative(path.join(dir, 'database'), f);
  const orig = fs.readFileSync(f);
  const content = path.join(dir, 'backup_content.control');
  const control = path.join(dir, 'backup.control');
  const origContent = fs.readFileSync(content, 'utf8');
  const origControl = fs.readFileSync(control, 'utf8');
  // Inside the first page's compressed payload (after its 8-byte header), then fix every CRC.
  const size = orig.readInt32LE(4);
  expect(size).toBeLessThan(8192);
  const bad = Buffer.from(orig);
  bad[8 + Math.floor(size / 2)] ^= 0xff;
  fs.writeFileSync(f, bad);
  const list = entries().map((e) => (e.path === rel ? { ...e, crc: crc32c(bad) } : e));
  const text = serializeBackupContent(list);
  fs.writeFileSync(content, text);
  fs.writeFileSync(control, origControl.replace(/content-crc = \d+/, `content-crc = ${backupContentCrc(text)}`));
  return () => {
    fs.writeFileSync(f, orig);
    fs.writeFileSync(content, origContent);
    fs.writeFileSync(control, origControl);
  };
}, /cannot decompress page|page verification failed|page header is invalid/);

withDamage('a damaged backup_content.control', () => {
  const f = path.join(dir, 'backup_content.control');
  const orig = fs.readFileSync(f);
  fs.writeFileSync(f, Buffer.concat([orig.subarray(0, 100), Buffer.from('X'), orig.subarray(101)]));
  return () => fs.writeFileSync(f, orig);
}, /backup_content.control" is damaged/);

withDamage('a missing WAL segment', () => {
  const wal = path.join(dir, 'database', 'pg_wal');
  const seg = fs.readdirSync(wal).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort()[0];
  fs.renameSync(path.join(wal, seg), path.join(wal, `${seg}.away`));
  return () => fs.renameSync(path.join(wal, `${seg}.away`), path.join(wal, seg));
}, /is missing|WAL segment .* is not in the backup/);

test('restore refuses a CORRUPT backup and says why; --force restores it anyway', async () => {
  const f = path.join(dir, 'database', 'PG_VERSION');
  fs.renameSync(f, `${f}.away`);
  try {
    await expectCorrupt(/is missing/);
  } finally {
    fs.renameSync(`${f}.away`, f);
  }
  const target = path.join(path.dirname(backupPath), 'restored');
  const r = await runCli(['restore', '--instance', 'v', '-D', target, '-i', id], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`ERROR: Backup ${id} has status: CORRUPT`));
  expect(fs.existsSync(target)).toBe(false);
  await cliOk(['restore', '--instance', 'v', '-D', target, '-i', id, '--force'], env);
  expect(fs.readFileSync(path.join(target, 'PG_VERSION'), 'utf8')).toBe('15\n');
  await expectValid();
});
