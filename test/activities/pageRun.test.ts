import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FdFile } from '../../activities/threads/fdFile';
import { slotScratch } from '../../activities/threads/scratch';
import { PageRun } from '../../activities/restore/pageRun';

const BLCKSZ = 8192;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagerun-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Whether this directory's filesystem takes O_DIRECT at all (tmpfs before Linux 6.6 does not). */
function directSupported(): boolean {
  const f = path.join(dir, 'probe');
  try {
    fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(f, { force: true });
  }
}

/** Pages 0..n-1 with gaps (blocks a backup did not store), in runs longer and shorter than a buffer. */
function blocks(n: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < n; b++) if (b % 301 !== 7 && !(b >= 500 && b < 530)) out.push(b);
  return out;
}

async function writePages(out: FdFile, slot: number, list: number[], pages: Map<number, Buffer>): Promise<void> {
  const run = new PageRun(out, null, slotScratch(slot), 1000);
  try {
    for (const b of list) await run.add(b, pages.get(b)!);
    await run.finish();
  } finally {
    await run.settle();
  }
}

it('writes every page where it belongs, uncached from aligned buffers where the filesystem allows it', async () => {
  const n = 1000;
  const pages = new Map(blocks(n).map((b) => [b, randomBytes(BLCKSZ)]));
  const file = path.join(dir, 'uncached');
  const out = FdFile.openWriteUncached(file);
  const direct = directSupported();
  expect(out.uncached).toBe(direct);
  try {
    await writePages(out, 0, blocks(n), pages);
    await out.truncate(n * BLCKSZ);
    // Still uncached: no write was refused for its alignment (which would have fallen back).
    expect(out.uncached).toBe(direct);
  } finally {
    await out.close();
  }
  const got = fs.readFileSync(file);
  expect(got.length).toBe(n * BLCKSZ);
  for (let b = 0; b < n; b++) {
    const want = pages.get(b) ?? Buffer.alloc(BLCKSZ);
    expect(got.subarray(b * BLCKSZ, (b + 1) * BLCKSZ).equals(want)).toBe(true);
  }
});

it('falls back to the page cache when an uncached write is refused, and loses nothing', async () => {
  if (!directSupported()) return; // nothing to refuse: the file is cached from the start
  const file = path.join(dir, 'fallback');
  const out = FdFile.openWriteUncached(file);
  try {
    // A Buffer of Node's own is not page-aligned: O_DIRECT refuses it with EINVAL.
    const unaligned = Buffer.allocUnsafe(2 * BLCKSZ + 1).subarray(1);
    randomBytes(2 * BLCKSZ).copy(unaligned);
    await out.write(unaligned, 0, 2 * BLCKSZ, BLCKSZ);
    expect(out.uncached).toBe(false);
    await out.sync();
    const got = fs.readFileSync(file);
    expect(got.subarray(BLCKSZ).equals(unaligned)).toBe(true);
  } finally {
    await out.close();
  }
});

it('writes through the cache when GS_PROBACKUP_UNCACHED_WRITES=0', async () => {
  const file = path.join(dir, 'cached');
  process.env.GS_PROBACKUP_UNCACHED_WRITES = '0';
  let out: FdFile;
  try {
    out = FdFile.openWriteUncached(file);
  } finally {
    delete process.env.GS_PROBACKUP_UNCACHED_WRITES;
  }
  try {
    expect(out.uncached).toBe(false);
    const pages = new Map(blocks(300).map((b) => [b, randomBytes(BLCKSZ)]));
    await writePages(out, 2, blocks(300), pages);
    expect(fs.readFileSync(file).subarray(0, BLCKSZ).equals(pages.get(0)!)).toBe(true);
  } finally {
    await out.close();
  }
  const again = FdFile.openWriteUncached(file); // the variable unset: uncached again where possible
  expect(again.uncached).toBe(directSupported());
  await again.close();
});

it('reports a failed write from finish(), with no write left in flight', async () => {
  const file = path.join(dir, 'readonly');
  fs.writeFileSync(file, '');
  const out = FdFile.openRead(file).file; // writes fail: EBADF
  const run = new PageRun(out, null, slotScratch(1), 10);
  try {
    await run.add(0, Buffer.alloc(BLCKSZ, 1));
    await run.add(5, Buffer.alloc(BLCKSZ, 2)); // not consecutive: the first run is written now
    await expect(run.finish()).rejects.toMatchObject({ code: 'EBADF' });
  } finally {
    await run.settle();
    await out.close();
  }
});
