/**
 * core/pglz against PostgreSQL itself: values PostgreSQL compressed with pglz (TOAST, with
 * default_toast_compression = pglz), read raw — inline from the heap page (pageinspect) and
 * out of line from the TOAST table's chunks — decompress to the values; real 8 KiB pages of a
 * pgbench cluster and random data round-trip through our compressor.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pglzCompress, pglzDecompress } from '../../core/pglz';
import { createCluster, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(120_000);

let cluster: PgCluster;

beforeAll(async () => {
  cluster = await createCluster({ pgbenchScale: 1 });
  // Values of 3 kB to 400 kB: small ones stay inline compressed, big ones go to TOAST compressed.
  await cluster.psql(`
    create extension pageinspect;
    set default_toast_compression = pglz;
    create table tz (id int, v text);
    insert into tz select i, string_agg('row ' || j || ' of value ' || i || ': ' || repeat(chr(97 + j % 26), j % 9) || substr(md5(j::text), 1, j % 5), ' ')
      from generate_series(1, 12) i, generate_series(1, (i * i) * 100) j group by i;
    checkpoint;`);
});

afterAll(async () => cluster?.destroy());

/** A compressed varlena: 4-byte header, va_tcinfo (raw size, method in the top 2 bits), pglz data. */
function decompressDatum(datum: Buffer): Buffer {
  const tcinfo = datum.readUInt32LE(0);
  expect(tcinfo >>> 30).toBe(0); // TOAST_PGLZ_COMPRESSION_ID
  return Buffer.from(pglzDecompress(datum.subarray(4), tcinfo & 0x3fffffff));
}

test('values PostgreSQL compressed with pglz decompress to the values (inline and TOAST)', async () => {
  const methods = await cluster.psql('select distinct pg_column_compression(v) from tz');
  expect(methods).toBe('pglz');
  const values = new Map<number, string>();
  for (const line of (await cluster.psql("select id, encode(convert_to(v, 'UTF8'), 'hex') from tz")).split('\n')) {
    const [id, hex] = line.split('|');
    values.set(Number(id), Buffer.from(hex, 'hex').toString('utf8'));
  }
  // Inline: t_data of each heap tuple is int4 id, then the varlena (aligned to 4).
  let inline = 0;
  const pages = Number(await cluster.psql("select pg_relation_size('tz') / 8192"));
  for (let p = 0; p < pages; p++) {
    for (const line of (await cluster.psql(`select encode(t_data, 'hex') from heap_page_items(get_raw_page('tz', ${p})) where t_data is not null`)).split('\n').filter(Boolean)) {
      const t = Buffer.from(line, 'hex');
      const id = t.readInt32LE(0);
      const hdr = t.readUInt32LE(4);
      if ((hdr & 0x03) !== 0x02) continue; // not VARATT_4B_C: external or uncompressed
      const datum = t.subarray(8, 4 + (hdr >>> 2));
      expect(decompressDatum(datum).toString('utf8')).toBe(values.get(id));
      inline++;
    }
  }
  expect(inline).toBeGreaterThan(0);
  // Out of line: the chunks of a compressed external value concatenate to va_tcinfo + pglz data.
  const toast = await cluster.psql("select reltoastrelid::regclass from pg_class where relname = 'tz'");
  const ids = (await cluster.psql(`select distinct chunk_id from ${toast}`)).split('\n').filter(Boolean);
  expect(ids.length).toBeGreaterThan(0);
  let external = 0;
  for (const chunkId of ids) {
    const hex = (await cluster.psql(`select string_agg(encode(chunk_data, 'hex'), '' order by chunk_seq) from ${toast} where chunk_id = ${chunkId}`));
    const raw = decompressDatum(Buffer.from(hex, 'hex')).toString('utf8');
    expect([...values.values()]).toContain(raw);
    external++;
  }
  expect(external).toBeGreaterThan(0);
  // And PostgreSQL's pglz output compares with ours: same format, similar ratio.
  for (const v of values.values()) {
    const ours = pglzCompress(Buffer.from(v))!;
    expect(Buffer.from(pglzDecompress(ours, Buffer.byteLength(v))).toString('utf8')).toBe(v);
  }
});

test('every 8 KiB page of a pgbench cluster round-trips', async () => {
  let pages = 0;
  let compressed = 0;
  let stored = 0;
  for (const rel of ['pgbench_accounts', 'pgbench_accounts_pkey', 'pgbench_branches', 'pgbench_tellers', 'pg_class', 'pg_attribute', 'pg_proc']) {
    const file = path.join(cluster.pgdata, await cluster.psql(`select pg_relation_filepath('${rel}')`));
    const data = fs.readFileSync(file);
    for (let off = 0; off + 8192 <= data.length; off += 8192) {
      const page = data.subarray(off, off + 8192);
      const c = pglzCompress(page);
      pages++;
      if (!c) {
        stored += 8192;
        continue;
      }
      expect(c.length).toBeLessThan(8192);
      expect(Buffer.from(pglzDecompress(c, 8192)).equals(page)).toBe(true);
      compressed++;
      stored += c.length;
    }
  }
  expect(pages).toBeGreaterThan(1700); // scale 1: pgbench_accounts alone is 1640 pages
  expect(compressed).toBeGreaterThan(pages * 0.9);
  expect(stored).toBeLessThan(pages * 8192 * 0.6);
});

test('random data, with and without repeats, of many lengths round-trips', () => {
  for (let i = 0; i < 300; i++) {
    const n = 1 + crypto.randomInt(20000);
    const buf = crypto.randomBytes(n);
    // Copy earlier slices forward: matches of every length and offset, overlapping ones too.
    const repeats = crypto.randomInt(50);
    for (let k = 0; k < repeats && n > 8; k++) {
      const from = crypto.randomInt(n - 4);
      const len = 1 + crypto.randomInt(Math.min(600, n - from - 1));
      const to = from + 1 + crypto.randomInt(Math.min(5000, n - from - 1));
      buf.copyWithin(to, from, from + len);
    }
    const c = pglzCompress(buf);
    if (c === null) continue;
    expect(c.length).toBeLessThan(n);
    expect(Buffer.from(pglzDecompress(c, n)).equals(buf)).toBe(true);
  }
});
