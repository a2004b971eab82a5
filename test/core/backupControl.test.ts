import { backupIdOf, parseBackupControl, serializeBackupControl, type BackupControl } from '../../core/backupControl';
import type { BackupId } from '../../core/backupId';
import type { Lsn } from '../../core/lsn';

const SAMPLE = `#Configuration
backup-mode = DELTA
stream = true
compress-alg = zlib
compress-level = 1
from-replica = false

#Compatibility
block-size = 8192
xlog-block-size = 8192
checksum-version = 1
program-version = 2.5.16
server-version = 15

#Result backup info
timelineid = 1
start-lsn = 0/3C0043A8
stop-lsn = 0/46159C70
start-time = '2024-05-02 08:19:16+00'
end-time = '2024-05-02 08:19:23+00'
recovery-xid = 743
recovery-time = '2024-05-02 08:19:22+00'
expire-time = '2024-06-02 08:19:22+00'
data-bytes = 96468992
wal-bytes = 218103808
uncompressed-bytes = 219000000
pgdata-bytes = 578000000
status = OK
parent-backup-id = 'SCUN3A'
primary_conninfo = 'user=postgres channel_binding=prefer host=/var/run/postgresql port=5432 sslmode=prefer'
external-dirs = '/etc/a:/etc/b'
note = 'it''s a note'
content-crc = 3735928559
`;

const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;

describe('backup.control', () => {
  it('parses a full sample', () => {
    const c = parseBackupControl(SAMPLE, 'sample');
    expect(c).toEqual<BackupControl>({
      backupMode: 'DELTA',
      stream: true,
      compressAlg: 'zlib',
      compressLevel: 1,
      fromReplica: false,
      blockSize: 8192,
      xlogBlockSize: 8192,
      checksumVersion: 1,
      programVersion: '2.5.16',
      serverVersion: '15',
      timelineId: 1,
      startLsn: '0/3C0043A8' as Lsn,
      stopLsn: '0/46159C70' as Lsn,
      startTime: utc(2024, 5, 2, 8, 19, 16),
      endTime: utc(2024, 5, 2, 8, 19, 23),
      recoveryXid: 743,
      recoveryTime: utc(2024, 5, 2, 8, 19, 22),
      expireTime: utc(2024, 6, 2, 8, 19, 22),
      dataBytes: 96468992,
      walBytes: 218103808,
      uncompressedBytes: 219000000,
      pgdataBytes: 578000000,
      status: 'OK',
      parentBackupId: 'SCUN3A' as BackupId,
      primaryConninfo: 'user=postgres channel_binding=prefer host=/var/run/postgresql port=5432 sslmode=prefer',
      externalDirs: ['/etc/a', '/etc/b'],
      note: "it's a note",
      contentCrc: 3735928559,
    });
    expect(backupIdOf(c)).toBe('SCUN44');
  });

  it('serializes exactly the spec layout', () => {
    expect(serializeBackupControl(parseBackupControl(SAMPLE, 'sample'))).toBe(SAMPLE);
  });

  it('writes only the always-present keys for a minimal backup', () => {
    const c: BackupControl = {
      backupMode: 'FULL',
      stream: false,
      compressAlg: 'none',
      compressLevel: 1,
      fromReplica: false,
      blockSize: 8192,
      xlogBlockSize: 8192,
      checksumVersion: 0,
      programVersion: '',
      serverVersion: '',
      timelineId: 1,
      startLsn: '0/2000028' as Lsn,
      stopLsn: '0/0' as Lsn,
      startTime: utc(2024, 5, 2, 8, 19, 24),
      recoveryXid: 0,
      status: 'RUNNING',
      contentCrc: 0,
      dataBytes: -1,
    };
    const text = serializeBackupControl(c);
    expect(text).toBe(`#Configuration
backup-mode = FULL
stream = false
compress-alg = none
compress-level = 1
from-replica = false

#Compatibility
block-size = 8192
xlog-block-size = 8192
checksum-version = 0

#Result backup info
timelineid = 1
start-lsn = 0/2000028
stop-lsn = 0/0
start-time = '2024-05-02 08:19:24+00'
recovery-xid = 0
status = RUNNING
`);
    const back = parseBackupControl(text, 'min');
    const { contentCrc: _a, dataBytes: _b, ...rest } = c;
    expect(back).toEqual(rest);
  });

  it('round-trips a merged FULL backup', () => {
    const c: BackupControl = {
      ...parseBackupControl(SAMPLE, 's'),
      backupMode: 'FULL',
      parentBackupId: undefined,
      mergeTime: utc(2024, 5, 3, 0, 0, 0),
      mergeDestId: 'SCUN4E' as BackupId,
      status: 'MERGING',
    };
    delete c.parentBackupId;
    const text = serializeBackupControl(c);
    expect(text).toContain("merge-time = '2024-05-03 00:00:00+00'\nend-time");
    expect(text).toContain("merge-dest-id = 'SCUN4E'\ndata-bytes");
    expect(parseBackupControl(text, 'x')).toEqual(c);
  });

  it('reads old local-time files, lowercase values, prefixes and unknown keys', () => {
    const text = `backup-mode = ptr
stream = on
compress-alg = not-defined
start-time = '2024-05-02 11:19:16+03'
end-time = '2024-05-02 13:49:23+05:30'
status = bogus
primary_conninfo = 'host=x'
some-future-key = 42
`;
    const c = parseBackupControl(text, 'old');
    expect(c.backupMode).toBe('PTRACK');
    expect(c.stream).toBe(true);
    expect(c.compressAlg).toBe('none');
    expect(c.startTime).toBe(utc(2024, 5, 2, 8, 19, 16));
    expect(c.endTime).toBe(utc(2024, 5, 2, 8, 19, 23));
    expect(c.status).toBe('UNKNOWN');
    expect(c.primaryConninfo).toBe('host=x');
    expect(parseBackupControl('backup-mode = full\nstart-time = 1\nstatus = ok\n'.replace('1', "'2024-01-01 00:00:00'"), 'x').status).toBe('OK');
  });

  it('rejects unreadable files naming the source', () => {
    expect(() => parseBackupControl('', '/cat/backups/n/X/backup.control')).toThrow('/cat/backups/n/X/backup.control');
    expect(() => parseBackupControl('# only comments\n\n', 'src1')).toThrow(/src1/);
    expect(() => parseBackupControl('backup-mode = FULL\nstatus = OK\n', 'src2')).toThrow(/src2.*start-time|start-time.*/);
    expect(() => parseBackupControl("backup-mode = FULL\nstart-time = '2024-01-01 00:00:00'\nstart-lsn = zz\n", 'src3')).toThrow(
      /src3/,
    );
  });

  it('keeps a quote inside a note readable', () => {
    const c = parseBackupControl(SAMPLE, 's');
    c.note = "O'Brien's backup\nsecond line";
    const back = parseBackupControl(serializeBackupControl(c), 's');
    expect(back.note).toBe("O'Brien's backup");
  });
});
