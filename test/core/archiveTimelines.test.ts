import type { BackupControl } from '../../core/backupControl';
import type { Lsn } from '../../core/lsn';
import { archiveTimelines, parseTimelineHistory } from '../../core/archiveTimelines';
import { formatArchiveJson, formatArchivePlain } from '../../core/show';
import { planWalPurge } from '../../core/walPurge';

const SEG = 16 * 1024 * 1024;
const START = 1714637964; // ID SCUN4C

function backup(startTime: number, tli: number, stopLsn: string, status: BackupControl['status'] = 'OK'): BackupControl {
  return {
    backupMode: 'FULL',
    stream: true,
    compressAlg: 'none',
    compressLevel: 1,
    fromReplica: false,
    blockSize: 8192,
    xlogBlockSize: 8192,
    checksumVersion: 1,
    programVersion: '2.5.16',
    serverVersion: '15',
    timelineId: tli,
    startLsn: '0/2000028' as Lsn,
    stopLsn: stopLsn as Lsn,
    startTime,
    recoveryXid: 0,
    status,
  };
}

it('reads the parent and switchpoint of a timeline from the last entry of its history file', () => {
  expect(parseTimelineHistory('1\t0/5000000\tbefore transaction 740\n')).toEqual({ parentTli: 1, switchpoint: '0/5000000' });
  expect(parseTimelineHistory('1\t0/5000000\tno recovery target specified\n\n2\t0/9A0000A0\tat restore point "x"\n')).toEqual({ parentTli: 2, switchpoint: '0/9A0000A0' });
  expect(parseTimelineHistory('garbage')).toBeNull();
});

it('groups segments by timeline, finds the gaps, links a timeline to its parent and the closest backup before the switch', () => {
  const files = [
    { name: '000000010000000000000002', size: SEG },
    { name: '000000010000000000000003.gz', size: SEG / 4 },
    { name: '000000010000000000000003.00000028.backup', size: 300 },
    { name: '000000010000000000000006', size: SEG },
    { name: '000000010000000000000007.partial', size: SEG },
    { name: '000000010000000000000008.part', size: 100 },
    { name: '00000002.history', size: 42 },
    { name: '000000020000000000000005', size: SEG },
    { name: 'notes.txt', size: 1 },
  ];
  const warnings: string[] = [];
  const early = backup(START, 1, '0/3000100');
  const late = backup(START + 100, 1, '0/6000100');
  const broken = backup(START + 50, 1, '0/4000100', 'ERROR');
  const tls = archiveTimelines(files, new Map([[2, '1\t0/5000000\tno recovery target specified\n']]), SEG, [late, broken, early], (m) => warnings.push(m));
  expect(warnings).toEqual(['unexpected WAL file name "notes.txt"']);
  expect(tls.map((t) => [t.tli, t.parentTli, t.switchpoint, t.minSegno, t.maxSegno, t.nSegments, t.size, t.lostSegments, t.backups.length])).toEqual([
    [1, 0, '0/0', '000000010000000000000002', '000000010000000000000006', 3, 2 * SEG + SEG / 4, [{ begin: '000000010000000000000004', end: '000000010000000000000005' }], 3],
    [2, 1, '0/5000000', '000000020000000000000005', '000000020000000000000005', 1, SEG, [], 0],
  ]);
  // Valid, and stopped before the switch: the later backup stops past it, the other failed.
  expect(tls[1].closestBackup).toBe(early);
  expect(tls[0].closestBackup).toBeNull();
});

it('prints the table and the JSON as pg_probackup does, newest timeline first', () => {
  const early = backup(START, 1, '0/3000100');
  const tls = archiveTimelines(
    [
      { name: '000000010000000000000002', size: SEG },
      { name: '000000010000000000000004', size: SEG },
      { name: '00000002.history', size: 42 },
      { name: '000000020000000000000005.gz', size: SEG / 8 },
    ],
    new Map([[2, '1\t0/5000000\tno recovery target specified\n']]),
    SEG,
    [early],
    () => undefined,
  );
  expect(formatArchivePlain('node', tls, SEG)).toBe(
    "\nARCHIVE INSTANCE 'node'\n" +
      `${'='.repeat(131)}\n` +
      ' TLI  Parent TLI  Switchpoint  Min Segno                 Max Segno                 N segments  Size    Zratio  N backups  Status   \n' +
      `${'='.repeat(131)}\n` +
      ' 2    1           0/5000000    000000020000000000000005  000000020000000000000005  1           2048kB  8.00    0          OK       \n' +
      ' 1    0           0/0          000000010000000000000002  000000010000000000000004  2           32MB    1.00    1          DEGRADED \n',
  );
  const json = JSON.parse(formatArchiveJson([{ instance: 'node', timelines: tls, segSize: SEG }]));
  expect(json[0].instance).toBe('node');
  expect(json[0].timelines.map((t: Record<string, unknown>) => [t.tli, t['parent-tli'], t.switchpoint, t['n-segments'], t.zratio, t['closest-backup-id'], t.status])).toEqual([
    [2, 1, '0/5000000', 1, 8, 'SCUN4C', 'OK'],
    [1, 0, '0/0', 2, 1, '', 'DEGRADED'],
  ]);
  expect(json[0].timelines[1]['lost-segments']).toEqual([{ 'begin-segno': '000000010000000000000003', 'end-segno': '000000010000000000000003' }]);
  expect(json[0].timelines[1].backups.map((b: { id: string }) => b.id)).toEqual(['SCUN4C']);
  expect(formatArchiveJson([{ instance: 'node', timelines: tls, segSize: SEG }])).toContain('"lost-segments": [],\n');
});

it('plans the WAL purge: before the oldest backup of a timeline, all of a timeline nothing reaches, none of one a backup reaches', () => {
  const files = [
    { name: '000000010000000000000002', size: SEG },
    { name: '000000010000000000000003', size: SEG },
    { name: '000000010000000000000003.00000028.backup', size: 300 },
    { name: '000000010000000000000004.gz', size: SEG / 4 },
    { name: '000000010000000000000005', size: SEG },
    { name: '00000002.history', size: 42 },
    { name: '000000020000000000000005', size: SEG },
    { name: '00000003.history', size: 42 },
    { name: '000000030000000000000004', size: SEG },
    { name: '000000030000000000000004.partial', size: SEG },
  ];
  const onTli1 = { ...backup(START, 1, '0/4000100'), startLsn: '0/4000028' as Lsn };
  const histories = new Map([
    [2, '1\t0/5000000\tno recovery target specified\n'],
    // Timeline 3 branched before any backup stopped: nothing reaches it.
    [3, '1\t0/3800000\tno recovery target specified\n'],
  ]);
  const tls = archiveTimelines(files, histories, SEG, [onTli1], () => undefined);
  const dry = planWalPurge(tls, SEG, true);
  expect(dry.lines).toEqual([
    'On timeline 1 WAL segments between 000000010000000000000002 and 000000010000000000000004 can be removed',
    'Logical WAL size to remove on timeline 1 : 32MB',
    'Resident WAL size to free on timeline 1 : 32MB',
    'On timeline 3 all files can be removed',
    'Logical WAL size to remove on timeline 3 : 16MB',
    'Resident WAL size to free on timeline 3 : 32MB',
  ]);
  expect(dry.remove).toEqual([
    '000000010000000000000002',
    '000000010000000000000003',
    '000000010000000000000003.00000028.backup',
    '000000030000000000000004',
    '000000030000000000000004.partial',
  ]);
  expect(planWalPurge(tls, SEG, false).lines[0]).toMatch(/will be removed$/);
});
