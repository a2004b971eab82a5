import type { BackupControl } from '../../core/backupControl';
import type { BackupId } from '../../core/backupId';
import type { Lsn } from '../../core/lsn';
import {
  formatBackupDetailPlain,
  formatBackupTable,
  formatBackupsJson,
  prettyDuration,
  prettySize,
  showRowFromControl,
} from '../../core/show';
import { formatLocalTime } from '../../core/timestamps';

const START = 1714637964; // ID SCUN4C
const full: BackupControl = {
  backupMode: 'FULL',
  stream: false,
  compressAlg: 'zlib',
  compressLevel: 1,
  fromReplica: false,
  blockSize: 8192,
  xlogBlockSize: 8192,
  checksumVersion: 1,
  programVersion: '2.5.16',
  serverVersion: '16',
  timelineId: 1,
  startLsn: '0/4C000028' as Lsn,
  stopLsn: '0/4D0000B8' as Lsn,
  startTime: START,
  endTime: START + 13,
  recoveryXid: 743,
  recoveryTime: START + 13,
  dataBytes: 250000000,
  walBytes: 16777216,
  uncompressedBytes: 577500000,
  pgdataBytes: 578000000,
  status: 'OK',
};
const delta: BackupControl = {
  ...full,
  backupMode: 'DELTA',
  stream: true,
  startTime: START - 20,
  endTime: START - 13,
  recoveryTime: START - 14,
  startLsn: '0/3C0043A8' as Lsn,
  stopLsn: '0/46159C70' as Lsn,
  dataBytes: 96468992,
  walBytes: 218103808,
  uncompressedBytes: 219000000,
  parentBackupId: 'SCUN30' as BackupId,
  note: 'line "one"\ttab',
  contentCrc: 1234567890,
};

describe('show rendering', () => {
  it('prettySize follows pg_probackup', () => {
    expect(prettySize(-1)).toBe('0');
    expect(prettySize(0)).toBe('0');
    expect(prettySize(1)).toBe('1B');
    expect(prettySize(10239)).toBe('10239B');
    expect(prettySize(10240)).toBe('10kB');
    expect(prettySize(16777216)).toBe('16MB');
    expect(prettySize(250000000)).toBe('238MB');
    expect(prettySize(20 * 1024 * 1024 - 1)).toBe('20MB');
    expect(prettySize(10 * 1024 * 1024 - 1)).toBe('10MB');
    expect(prettySize(20478 * 512)).toBe('10239kB');
    expect(prettySize(20479 * 512)).toBe('10MB');
    expect(prettySize(3 * 1024 ** 3)).toBe('3072MB');
    expect(prettySize(5 * 1024 ** 4)).toBe('5120GB');
    expect(prettySize(40 * 1024 ** 4)).toBe('40TB');
    expect(prettySize(2 ** 53)).toBe('8192TB');
  });

  it('prettyDuration follows pretty_time_interval', () => {
    expect(prettyDuration(0)).toBe('0');
    expect(prettyDuration(-5)).toBe('0');
    expect(prettyDuration(5)).toBe('5s');
    expect(prettyDuration(63)).toBe('1m:3s');
    expect(prettyDuration(7200)).toBe('2h:0m');
    expect(prettyDuration(90061)).toBe('1d:1h');
    expect(prettyDuration(1.5)).toBe('1s:500ms');
    expect(prettyDuration(0.25)).toBe('250ms');
  });

  it('builds rows', () => {
    const r = showRowFromControl('node', full, START + 100);
    expect(r).toEqual({
      instance: 'node',
      version: '16',
      id: 'SCUN4C',
      recoveryTime: formatLocalTime(START + 13),
      mode: 'FULL',
      walMode: 'ARCHIVE',
      tli: '1/0',
      time: '13s',
      data: '238MB',
      wal: '16MB',
      zratio: '2.31',
      startLsn: '0/4C000028',
      stopLsn: '0/4D0000B8',
      status: 'OK',
    });
    const d = showRowFromControl('node', delta, START);
    expect(d.tli).toBe('1/1');
    expect(d.walMode).toBe('STREAM');
    expect(d.time).toBe('7s');
    expect(showRowFromControl('n', { ...delta, timelineId: 2 }, START, 1).tli).toBe('2/1');
    const running = showRowFromControl('n', { ...full, status: 'RUNNING', endTime: undefined, recoveryTime: undefined }, START + 65);
    expect(running.time).toBe('1m:5s');
    expect(running.recoveryTime).toBe('----');
    const noEnd = showRowFromControl('n', { ...full, status: 'ERROR', endTime: undefined, serverVersion: '' }, START + 65);
    expect(noEnd.time).toBe('----');
    expect(noEnd.version).toBe('----');
    const merged = showRowFromControl('n', { ...full, mergeTime: START + 3600, endTime: START + 3605 }, START);
    expect(merged.time).toBe('5s');
    const unknown = showRowFromControl('n', { ...full, dataBytes: undefined, uncompressedBytes: undefined, walBytes: undefined }, START);
    expect([unknown.zratio, unknown.data, unknown.wal]).toEqual(['1.00', '0', '0']);
  });

  it('formats the table like pg_probackup', () => {
    const rows = [full, delta].map((c) => showRowFromControl('node', c, START + 100));
    rows[0].recoveryTime = '2024-05-02 11:19:37+03';
    rows[1].recoveryTime = '2024-05-02 11:19:16+03';
    rows[0].data = '239MB';
    rows[1].data = '92MB';
    rows[1].zratio = '2.27';
    rows[0].time = '13s';
    rows[1].id = 'SCUN3Y';
    rows[0].id = 'SCUN4E';
    const expected = [
      '=====================================================================================================================================',
      ' Instance  Version  ID      Recovery Time           Mode   WAL Mode  TLI  Time   Data    WAL  Zratio  Start LSN   Stop LSN    Status ',
      '=====================================================================================================================================',
      ' node      16       SCUN4E  2024-05-02 11:19:37+03  FULL   ARCHIVE   1/0   13s  239MB   16MB    2.31  0/4C000028  0/4D0000B8  OK     ',
      ' node      16       SCUN3Y  2024-05-02 11:19:16+03  DELTA  STREAM    1/1    7s   92MB  208MB    2.27  0/3C0043A8  0/46159C70  OK     ',
      '',
    ].join('\n');
    expect(formatBackupTable(rows)).toBe(expected);
  });

  it('formats an empty table with the header only', () => {
    const t = formatBackupTable([]).split('\n');
    expect(t).toHaveLength(4);
    expect(t[1]).toBe(' Instance  Version  ID  Recovery Time  Mode  WAL Mode  TLI  Time  Data  WAL  Zratio  Start LSN  Stop LSN  Status ');
    expect(t[0]).toBe('='.repeat(t[1].length));
  });

  it('formats JSON like pg_probackup', () => {
    const text = formatBackupsJson([
      { instance: 'node', backups: [full, delta] },
      { instance: 'other', backups: [] },
    ]);
    const L = (s: string) => formatLocalTime(s === 's' ? START : START + 13);
    const expectedFull = [
      '            {',
      '                "id": "SCUN4C",',
      '                "backup-mode": "FULL",',
      '                "wal": "ARCHIVE",',
      '                "compress-alg": "zlib",',
      '                "compress-level": 1,',
      '                "from-replica": "false",',
      '                "block-size": 8192,',
      '                "xlog-block-size": 8192,',
      '                "checksum-version": 1,',
      '                "program-version": "2.5.16",',
      '                "server-version": "16",',
      '                "current-tli": 1,',
      '                "parent-tli": 0,',
      '                "start-lsn": "0/4C000028",',
      '                "stop-lsn": "0/4D0000B8",',
      `                "start-time": "${L('s')}",`,
      `                "end-time": "${L('e')}",`,
      '                "recovery-xid": 743,',
      `                "recovery-time": "${L('e')}",`,
      '                "data-bytes": 250000000,',
      '                "wal-bytes": 16777216,',
      '                "uncompressed-bytes": 577500000,',
      '                "pgdata-bytes": 578000000,',
      '                "status": "OK"',
      '            },',
    ].join('\n');
    expect(text.startsWith('[\n    {\n        "instance": "node",\n        "backups": [\n' + expectedFull + '\n')).toBe(true);
    expect(text).toContain('                "parent-backup-id": "SCUN30",\n                "backup-mode": "DELTA",');
    expect(text).toContain('                "note": "line \\"one\\"\\ttab",\n                "content-crc": 1234567890\n            }\n        ]\n    },');
    expect(text.endsWith('    {\n        "instance": "other",\n        "backups": [\n        ]\n    }\n]\n')).toBe(true);
    const parsed = JSON.parse(text);
    expect(parsed).toHaveLength(2);
    expect(parsed[0].backups[1]['parent-tli']).toBe(1);
    expect(parsed[0].backups[1].wal).toBe('STREAM');
    expect(parsed[0].backups[1].note).toBe('line "one"\ttab');
  });

  it('JSON escapes control characters and can carry a tablespace map', () => {
    const text = formatBackupsJson([
      { instance: 'a\u0001', backups: [full], tablespaceMaps: { SCUN4C: '16400 /mnt/ts\n16401 /mnt/ts two\n' } },
    ]);
    expect(text).toContain('"instance": "a\\u0001"');
    const parsed = JSON.parse(text);
    expect(parsed[0].backups[0].tablespace_map).toEqual([
      { oid: '16400', path: '/mnt/ts' },
      { oid: '16401', path: '/mnt/ts two' },
    ]);
  });

  it('formats the plain detail with local times and the tablespace map', () => {
    const out = formatBackupDetailPlain(delta, { tablespaceMap: '16400 /mnt/ts\n16401 /mnt/b\n' });
    expect(out.startsWith('#Configuration\nbackup-mode = DELTA\n')).toBe(true);
    expect(out).toContain(`start-time = '${formatLocalTime(delta.startTime)}'\n`);
    expect(out).toContain("parent-backup-id = 'SCUN30'\n");
    expect(out.endsWith("content-crc = 1234567890\n\ntablespace_map = '16400 /mnt/ts; 16401 /mnt/b'\n")).toBe(true);
    expect(formatBackupDetailPlain(full, {})).not.toContain('tablespace_map');
  });
});
