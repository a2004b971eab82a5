import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '../../core/crc32c';
import {
  DB_STATE_NAMES,
  PG_CONTROL_CRC_OFFSET,
  computePgControlCrc,
  parsePgControl,
  verifyPgControlCrc,
} from '../../core/pgControl';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const INITDB = path.join(PG_BIN, 'initdb');
const CONTROLDATA = path.join(PG_BIN, 'pg_controldata');
const HAVE_PG = fs.existsSync(INITDB) && fs.existsSync(CONTROLDATA);
if (!HAVE_PG) {
  // eslint-disable-next-line no-console
  console.warn(`pgControl tests against a real cluster SKIPPED: ${INITDB} or ${CONTROLDATA} not found (set PG_BIN)`);
}
const itPg = HAVE_PG ? it : it.skip;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function runAsPg(cmd: string, args: string[]): string {
  return isRoot
    ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } })
    : execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
}

describe('pg_control', () => {
  let dir = '';
  let data = '';
  let controldata: Map<string, string>;
  let buf: Buffer;

  beforeAll(() => {
    if (!HAVE_PG) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gs-pgcontrol-'));
    fs.chmodSync(dir, 0o755);
    if (isRoot) execFileSync('chown', ['postgres', dir]);
    data = path.join(dir, 'data');
    runAsPg(INITDB, ['-k', '-A', 'trust', '-D', data]);
    const out = runAsPg(CONTROLDATA, [data]);
    controldata = new Map();
    for (const line of out.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) controldata.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    buf = fs.readFileSync(path.join(data, 'global', 'pg_control'));
  }, 120000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const cd = (key: string): string => {
    const v = controldata.get(key);
    if (v === undefined) throw new Error(`pg_controldata printed no "${key}"`);
    return v;
  };

  itPg('parses every field as pg_controldata prints it', () => {
    const c = parsePgControl(buf);
    expect(c.systemIdentifier).toBe(cd('Database system identifier'));
    expect(String(c.pgControlVersion)).toBe(cd('pg_control version number'));
    expect(String(c.catalogVersion)).toBe(cd('Catalog version number'));
    expect(DB_STATE_NAMES[c.state]).toBe(cd('Database cluster state'));
    expect(c.checkPointLsn).toBe(cd('Latest checkpoint location'));
    expect(c.redoLsn).toBe(cd("Latest checkpoint's REDO location"));
    expect(String(c.timeline)).toBe(cd("Latest checkpoint's TimeLineID"));
    expect(String(c.prevTimeline)).toBe(cd("Latest checkpoint's PrevTimeLineID"));
    expect(c.fullPageWrites ? 'on' : 'off').toBe(cd("Latest checkpoint's full_page_writes"));
    expect(`${c.nextXidEpoch}:${c.nextXid}`).toBe(cd("Latest checkpoint's NextXID"));
    expect(String(c.nextOid)).toBe(cd("Latest checkpoint's NextOID"));
    expect(String(c.oldestXid)).toBe(cd("Latest checkpoint's oldestXID"));
    expect(String(c.oldestActiveXid)).toBe(cd("Latest checkpoint's oldestActiveXID"));
    expect(c.unloggedLsn).toBe(cd('Fake LSN counter for unlogged rels'));
    expect(c.minRecoveryPoint).toBe(cd('Minimum recovery ending location'));
    expect(String(c.minRecoveryPointTli)).toBe(cd("Min recovery ending loc's timeline"));
    expect(c.backupStartPoint).toBe(cd('Backup start location'));
    expect(c.backupEndPoint).toBe(cd('Backup end location'));
    expect(c.backupEndRequired ? 'yes' : 'no').toBe(cd('End-of-backup record required'));
    expect(['minimal', 'replica', 'logical'][c.walLevel]).toBe(cd('wal_level setting'));
    expect(c.walLogHints ? 'on' : 'off').toBe(cd('wal_log_hints setting'));
    expect(String(c.maxConnections)).toBe(cd('max_connections setting'));
    expect(String(c.maxWorkerProcesses)).toBe(cd('max_worker_processes setting'));
    expect(String(c.maxWalSenders)).toBe(cd('max_wal_senders setting'));
    expect(String(c.maxPreparedXacts)).toBe(cd('max_prepared_xacts setting'));
    expect(String(c.maxLocksPerXact)).toBe(cd('max_locks_per_xact setting'));
    expect(c.trackCommitTimestamp ? 'on' : 'off').toBe(cd('track_commit_timestamp setting'));
    expect(String(c.maxAlign)).toBe(cd('Maximum data alignment'));
    expect(String(c.blcksz)).toBe(cd('Database block size'));
    expect(String(c.relsegSize)).toBe(cd('Blocks per segment of large relation'));
    expect(String(c.xlogBlcksz)).toBe(cd('WAL block size'));
    expect(String(c.xlogSegSize)).toBe(cd('Bytes per WAL segment'));
    expect(String(c.nameDataLen)).toBe(cd('Maximum length of identifiers'));
    expect(String(c.indexMaxKeys)).toBe(cd('Maximum columns in an index'));
    expect(String(c.toastMaxChunkSize)).toBe(cd('Maximum size of a TOAST chunk'));
    expect(String(c.loblksize)).toBe(cd('Size of a large-object chunk'));
    expect(c.float8ByVal ? 'by value' : 'by reference').toBe(cd('Float8 argument passing'));
    expect(String(c.dataChecksumVersion)).toBe(cd('Data page checksum version'));
    expect(c.dataChecksumVersion).toBe(1); // initdb -k
    expect(c.mockAuthNonce).toBe(cd('Mock authentication nonce'));
    expect(c.checkPointTime).toBeGreaterThan(1600000000);
    expect(Math.abs(c.time - c.checkPointTime)).toBeLessThan(3600);
  });

  itPg('verifies the stored CRC and detects corruption', () => {
    expect(verifyPgControlCrc(buf)).toBe(true);
    const c = parsePgControl(buf);
    expect(c.crc).toBe(computePgControlCrc(buf));
    expect(c.crc).toBe(crc32c(buf.subarray(0, PG_CONTROL_CRC_OFFSET)));
    const bad = Buffer.from(buf);
    bad[PG_CONTROL_CRC_OFFSET - 1] ^= 1;
    expect(verifyPgControlCrc(bad)).toBe(false);
    const bad2 = Buffer.from(buf);
    bad2[PG_CONTROL_CRC_OFFSET] ^= 1;
    expect(verifyPgControlCrc(bad2)).toBe(false);
  });

  it('rejects short buffers and other versions', () => {
    expect(() => parsePgControl(Buffer.alloc(100))).toThrow(/too short/);
    const b = Buffer.alloc(8192);
    b.writeUInt32LE(1700, 8);
    expect(() => parsePgControl(b)).toThrow(/version 1700/);
    expect(() => verifyPgControlCrc(Buffer.alloc(10))).toThrow(/too short/);
  });

  it('decodes a synthetic buffer', () => {
    const b = Buffer.alloc(8192);
    b.writeBigUInt64LE(18446744073709551615n, 0);
    b.writeUInt32LE(1300, 8);
    b.writeBigUInt64LE(0x1234567890n, 32);
    b.writeUInt32LE(7, 40 + 8);
    b.writeUInt32LE(16 * 1024 * 1024 * 4, 228);
    b.writeUInt32LE(crc32c(b.subarray(0, 288)), 288);
    const c = parsePgControl(b);
    expect(c.systemIdentifier).toBe('18446744073709551615');
    expect(c.checkPointLsn).toBe('12/34567890');
    expect(c.timeline).toBe(7);
    expect(c.xlogSegSize).toBe(64 * 1024 * 1024);
    expect(verifyPgControlCrc(b)).toBe(true);
  });
});
