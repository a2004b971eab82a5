/**
 * pg_checksum_page against PostgreSQL's own: pages whose checksums pg_checksums wrote, including
 * a second segment (block numbers are relation-relative: segno × 131072 + block).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pageChecksum, pageChecksumIsSimd, pageChecksumJs, relationBlockNumber, verifyPage } from '../../core/pageChecksum';
import { BLCKSZ } from '../../core/types';
import { createCluster, pgBin, run, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(120_000);

let cluster: PgCluster;
let relPath: string;

beforeAll(async () => {
  cluster = await createCluster({ checksums: false, pgbenchScale: 1 });
  relPath = await cluster.psql(`select pg_relation_filepath('pgbench_accounts')`);
  await cluster.stop();
  // A second segment of the relation, so pg_checksums writes checksums with block numbers past 131071.
  const main = fs.readFileSync(path.join(cluster.pgdata, relPath));
  fs.writeFileSync(path.join(cluster.pgdata, `${relPath}.1`), main.subarray(0, 16 * BLCKSZ));
  const r = await run(pgBin('pg_checksums'), ['--enable', '--no-sync', '-D', cluster.pgdata]);
  if (r.code !== 0) throw new Error(r.stderr);
});

afterAll(async () => cluster?.destroy());

function pagesOf(file: string): Buffer {
  return fs.readFileSync(path.join(cluster.pgdata, file));
}

test('equals the checksum pg_checksums stored, in both segments', () => {
  for (const [file, segno] of [[relPath, 0], [`${relPath}.1`, 1]] as const) {
    const buf = pagesOf(file);
    let checked = 0;
    for (let b = 0; b * BLCKSZ < buf.length; b++) {
      const stored = buf.readUInt16LE(b * BLCKSZ + 8);
      expect(pageChecksum(buf, b * BLCKSZ, relationBlockNumber(segno, b))).toBe(stored);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  }
  // The same page as block 0 of segment 1 has another checksum than as block 0 of segment 0.
  const seg0 = pagesOf(relPath);
  expect(pageChecksum(seg0, 0, 0)).not.toBe(pageChecksum(seg0, 0, 131072));
});

test('the WebAssembly SIMD and the JavaScript checksums both equal the stored ones, and each other on any bytes', () => {
  expect(pageChecksumIsSimd).toBe(true); // Node 20 has WebAssembly SIMD
  const buf = pagesOf(relPath);
  for (let b = 0; b * BLCKSZ < buf.length; b++) {
    expect(pageChecksumJs(buf, b * BLCKSZ, b)).toBe(buf.readUInt16LE(b * BLCKSZ + 8));
  }
  const noise = Buffer.alloc(BLCKSZ * 3 + 1);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  for (const [off, blkno] of [[0, 0], [1, 7], [BLCKSZ, 131072 * 3 + 5], [2 * BLCKSZ + 1, 0xfffffffe]]) {
    expect(pageChecksum(noise, off, blkno)).toBe(pageChecksumJs(noise, off, blkno));
  }
});

test('works on unaligned buffers', () => {
  const buf = pagesOf(relPath);
  const shifted = Buffer.alloc(BLCKSZ + 1);
  buf.copy(shifted, 1, 0, BLCKSZ);
  expect(pageChecksum(shifted, 1, 0)).toBe(buf.readUInt16LE(8));
});

test('verifyPage: ok, zero page, corrupt checksum, corrupt header', () => {
  const buf = Buffer.from(pagesOf(relPath).subarray(0, BLCKSZ));
  expect(verifyPage(buf, 0, 0, true).verdict).toBe('ok');
  expect(verifyPage(Buffer.alloc(BLCKSZ), 0, 0, true).verdict).toBe('zero');
  const flipped = Buffer.from(buf);
  flipped[5000] ^= 0x01;
  const v = verifyPage(flipped, 0, 0, true);
  expect(v.verdict).toBe('bad-checksum');
  expect(v.found).toBe(buf.readUInt16LE(8));
  expect(verifyPage(flipped, 0, 0, false).verdict).toBe('ok');
  const badHeader = Buffer.from(buf);
  badHeader.writeUInt16LE(10, 12); // pd_lower below the header size
  expect(verifyPage(badHeader, 0, 0, true).verdict).toBe('bad-header');
});
