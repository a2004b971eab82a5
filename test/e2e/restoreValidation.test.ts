/**
 * A restore of a FULL backup validates it as it reads it (one read, not two): damage found on the
 * way fails the restore with validate's words, marks the backup CORRUPT, and leaves the target as
 * the restore found it, as validating first would have. Undoing the damage makes the backup OK.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backupContentCrc, parseBackupContent, serializeBackupContent } from '../../core/backupContent';
import { crc32c } from '../../core/crc32c';
import { cliOk, runCli } from '../helpers/cli';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(600_000);

let cluster: PgCluster;
let root: string;
let env: Record<string, string>;
/** Backups by compression: the raw one lets a page be damaged behind a matching file CRC. */
const ids: Record<'raw' | 'zlib', string> = { raw: '', zlib: '' };

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 2 });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'rval-'));
  env = { ...cluster.env, BACKUP_PATH: path.join(root, 'catalog') };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 'r', '-D', cluster.pgdata], env);
  for (const [kind, extra] of [['raw', []], ['zlib', ['--compress']]] as const) {
    const b = await cliOk(['backup', '--instance', 'r', '-b', 'FULL', '--stream', '-j', '2', ...extra], env);
    ids[kind] = /INFO: Backup (\w+) completed/.exec(b.stderr)![1];
  }
});

afterAll(async () => {
  await cluster?.destroy();
  fs.rmSync(root, { recursive: true, force: true });
});

const backupDir = (id: string) => path.join(root, 'catalog', 'backups', 'r', id);
const contentOf = (id: string) => parseBackupContent(fs.readFileSync(path.join(backupDir(id), 'backup_content.control'), 'utf8'), 'backup_content.control');

async function status(id: string): Promise<string> {
  const j = JSON.parse((await cliOk(['show', '--instance', 'r', '--format=json'], env)).stdout);
  return j[0].backups.find((b: { id: string }) => b.id === id).status;
}

/** The largest data file of the backup: with the tests' small pieces, restored in several. */
function biggestDataFile(id: string): { file: string; rel: string } {
  const e = contentOf(id).filter((x) => x.isDatafile && x.size > 0).sort((a, b) => b.size - a.size)[0];
  return { file: path.join(backupDir(id), 'database', e.path), rel: e.path };
}

/** Rewrites a stored file and every CRC that vouches for it, so that only a page check can tell. */
function rewriteBehindCrcs(id: string, rel: string, bytes: Buffer): () => void {
  const file = path.join(backupDir(id), 'database', rel);
  const content = path.join(backupDir(id), 'backup_content.control');
  const control = path.join(backupDir(id), 'backup.control');
  const orig = { file: fs.readFileSync(file), content: fs.readFileSync(content, 'utf8'), control: fs.readFileSync(control, 'utf8') };
  fs.writeFileSync(file, bytes);
  const text = serializeBackupContent(contentOf(id).map((e) => (e.path === rel && e.externalDirNum === 0 ? { ...e, crc: crc32c(bytes) } : e)));
  fs.writeFileSync(content, text);
  fs.writeFileSync(control, orig.control.replace(/content-crc = \d+/, `content-crc = ${backupContentCrc(text)}`));
  return () => {
    fs.writeFileSync(file, orig.file);
    fs.writeFileSync(content, orig.content);
    fs.writeFileSync(control, orig.control);
  };
}

let n = 0;

function restoreFinds(
  name: string,
  kind: keyof typeof ids,
  damage: () => () => void,
  message: RegExp,
  opts: { targetExists?: boolean; args?: string[] } = {},
) {
  test(`restore finds ${name}: ERROR naming it, backup CORRUPT, target left as found`, async () => {
    const id = ids[kind];
    const target = path.join(root, `target-${++n}`);
    if (opts.targetExists) fs.mkdirSync(target);
    const undo = damage();
    try {
      const r = await runCli(['restore', '--instance', 'r', '-D', target, '-i', id, '-j', '2', ...(opts.args ?? [])], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(new RegExp(`ERROR: Backup ${id} is corrupt: `));
      if (opts.targetExists) expect(fs.readdirSync(target)).toEqual([]);
      else expect(fs.existsSync(target)).toBe(false);
      expect(await status(id)).toBe('CORRUPT');
    } finally {
      undo();
    }
    const v = await runCli(['validate', '--instance', 'r', '-i', id], env);
    if (v.code !== 0) throw new Error(v.stderr);
    expect(await status(id)).toBe('OK');
  });
}

restoreFinds('a missing file', 'zlib', () => {
  const f = path.join(backupDir(ids.zlib), 'database', 'PG_VERSION');
  fs.renameSync(f, `${f}.away`);
  return () => fs.renameSync(`${f}.away`, f);
}, /PG_VERSION" is missing/);

restoreFinds('a flipped byte in a compressed data file (into an existing empty directory)', 'zlib', () => {
  const { file } = biggestDataFile(ids.zlib);
  const orig = fs.readFileSync(file);
  const bad = Buffer.from(orig);
  bad[Math.floor(bad.length / 2)] ^= 0x40;
  fs.writeFileSync(file, bad);
  return () => fs.writeFileSync(file, orig);
}, /is damaged|cannot decompress|is corrupt: page record/, { targetExists: true });

restoreFinds('a truncated data file', 'raw', () => {
  const { file } = biggestDataFile(ids.raw);
  const orig = fs.readFileSync(file);
  fs.truncateSync(file, orig.length - 100);
  return () => fs.writeFileSync(file, orig);
}, /has size \d+, backup_content.control says \d+|truncated/);

restoreFinds('a damaged page whose file CRC was made to match (the page check)', 'raw', () => {
  const { file, rel } = biggestDataFile(ids.raw);
  const bad = Buffer.from(fs.readFileSync(file));
  // Inside the last page: a record is an 8-byte header and the 8192-byte page.
  bad[bad.length - 4000] ^= 0xff;
  return rewriteBehindCrcs(ids.raw, rel, bad);
}, /block \d+: (page verification failed, calculated checksum \d+ but expected \d+|page header is invalid)/);

restoreFinds('a WAL segment the backup needs missing from its file list (checked before any file is read)', 'zlib', () => {
  const dir = backupDir(ids.zlib);
  const content = path.join(dir, 'backup_content.control');
  const control = path.join(dir, 'backup.control');
  const orig = { content: fs.readFileSync(content, 'utf8'), control: fs.readFileSync(control, 'utf8') };
  const text = serializeBackupContent(contentOf(ids.zlib).filter((e) => !/^pg_wal\/[0-9A-F]{24}$/.test(e.path)));
  fs.writeFileSync(content, text);
  fs.writeFileSync(control, orig.control.replace(/content-crc = \d+/, `content-crc = ${backupContentCrc(text)}`));
  return () => {
    fs.writeFileSync(content, orig.content);
    fs.writeFileSync(control, orig.control);
  };
}, /WAL segment [0-9A-F]{24} needed for consistency .* is not in the backup/);

restoreFinds('damage with --no-validate too: it is not retried, and still leaves nothing', 'raw', () => {
  const f = path.join(backupDir(ids.raw), 'database', 'PG_VERSION');
  const orig = fs.readFileSync(f);
  fs.writeFileSync(f, '14\n');
  return () => fs.writeFileSync(f, orig);
}, /PG_VERSION" is damaged: its CRC is \d+, backup_content.control says \d+/, { args: ['--no-validate'] });

test('--skip-block-validation: the page check is what found the damaged page (the restore passes without it, page and all)', async () => {
  const { file, rel } = biggestDataFile(ids.raw);
  const bad = Buffer.from(fs.readFileSync(file));
  bad[bad.length - 4000] ^= 0xff;
  const undo = rewriteBehindCrcs(ids.raw, rel, bad);
  const target = path.join(root, 'skipped');
  try {
    await cliOk(['restore', '--instance', 'r', '-D', target, '-i', ids.raw, '-j', '2', '--skip-block-validation'], env);
  } finally {
    undo();
  }
  // The restored file ends with the damaged page, as stored (its record's last 8192 bytes).
  const restored = fs.readFileSync(path.join(target, rel));
  expect(restored.subarray(restored.length - 8192).equals(bad.subarray(bad.length - 8192))).toBe(true);
});

test('a sound backup restores with its validation in the same read, and stays OK', async () => {
  const target = path.join(root, 'sound');
  const r = await cliOk(['restore', '--instance', 'r', '-D', target, '-i', ids.zlib, '-j', '2'], env);
  expect(r.stderr).toMatch(new RegExp(`INFO: Validating backup ${ids.zlib}\\n`));
  expect(r.stderr).toMatch(new RegExp(`INFO: Backup ${ids.zlib} is valid\\.`));
  expect(r.stderr).toMatch(new RegExp(`INFO: Restore of backup ${ids.zlib} completed`));
  const ctl = await run(pgBin('pg_controldata'), [target]);
  expect(ctl.stdout).toMatch(/Data page checksum version:\s+1/);
  expect(await status(ids.zlib)).toBe('OK');
});
