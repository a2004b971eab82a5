import { COMMANDS } from '../../client/options/commands';
import { parseCommandArgs } from '../../client/options/parseArgv';
import { validateCommand } from '../../client/options/validate';
import type { CommandSpec } from '../../client/options/commands';

const restore = COMMANDS.restore as CommandSpec;
const backup = COMMANDS.backup as CommandSpec;

describe('command-line reading (getopt_long rules)', () => {
  it('reads --opt=value, --opt value, -x value, -xvalue and bundled flags alike', () => {
    const a = parseCommandArgs(backup, ['-B', '/cat', '--instance=node', '-bFULL', '-j', '4', '--compress-level', '5', '-Cw', '--stream']);
    expect(a.values).toEqual({
      backupPath: '/cat', instance: 'node', backupMode: 'FULL', threads: '4', compressLevel: '5', smoothCheckpoint: true, noPassword: true, stream: true,
    });
    const b = parseCommandArgs(backup, ['--backup-path=/cat', '--instance', 'node', '--backup-mode', 'FULL', '--threads=4']);
    expect(b.values).toMatchObject({ backupPath: '/cat', instance: 'node', backupMode: 'FULL', threads: '4' });
  });

  it('collects repeatable options in order', () => {
    const a = parseCommandArgs(restore, ['-T', '/a=/b', '--tablespace-mapping=/c=/d', '--external-mapping', '/e=/f', '-T/g=/h']);
    expect(a.values.tablespaceMapping).toEqual(['/a=/b', '/c=/d', '/g=/h']);
    expect(a.values.externalMapping).toEqual(['/e=/f']);
  });

  it('maps -S to --slot in backup and to --primary-slot-name in restore', () => {
    expect(parseCommandArgs(backup, ['-S', 's1']).values).toEqual({ slot: 's1' });
    expect(parseCommandArgs(restore, ['-S', 's1']).values).toEqual({ primarySlotName: 's1' });
  });

  it('accepts the legacy spellings of recovery targets and delete options', () => {
    expect(parseCommandArgs(restore, ['--time=2020-01-01 00:00:00+00', '--inclusive=false']).values).toEqual({
      recoveryTargetTime: '2020-01-01 00:00:00+00', recoveryTargetInclusive: 'false',
    });
    expect(parseCommandArgs(COMMANDS.delete as CommandSpec, ['--expired', '--wal']).values).toEqual({ deleteExpired: true, deleteWal: true });
  });

  it('accepts an unambiguous prefix of a long option, like getopt_long', () => {
    expect(parseCommandArgs(backup, ['--inst=node', '--backup-m', 'FULL']).values).toEqual({ instance: 'node', backupMode: 'FULL' });
    expect(() => parseCommandArgs(backup, ['--re=1'])).toThrow(
      'option --re is ambiguous for command "backup": it could be --remote-host, --remote-libpath, --remote-path, --remote-port, --remote-proto, --remote-user, --retention-redundancy, --retention-window',
    );
  });

  it('a value that starts with a dash is still a value (getopt)', () => {
    expect(parseCommandArgs(COMMANDS['set-config'] as CommandSpec, ['--retention-redundancy', '-1']).values).toEqual({ retentionRedundancy: '-1' });
  });

  it.each([
    [['--bogus'], 'unrecognized option "--bogus" for command "backup": see "gs_probackup help backup" for the options it accepts'],
    [['-Z'], 'unrecognized option "-Z" for command "backup": see "gs_probackup help backup" for the options it accepts'],
    [['--instance'], 'option --instance requires a value: --instance=instance-name'],
    [['-j'], 'option -j/--threads requires a value: -j num-threads'],
    [['--stream=yes'], 'option --stream does not take a value (got "yes")'],
    [['-j', '2', '--threads=3'], 'option -j/--threads is given more than once: give it once'],
    [['stray'], 'unexpected argument "stray" for command "backup": options are written --name=value or -x value'],
    [['-?'], 'option -? is accepted only before a command: use "gs_probackup backup --help"'],
    [['--recovery-target-time=x'], 'unrecognized option "--recovery-target-time" for command "backup": see "gs_probackup help backup" for the options it accepts'],
  ])('%j → %s', (args, message) => {
    expect(() => parseCommandArgs(backup, args)).toThrow(message);
  });

  it('--help anywhere asks for help', () => {
    expect(parseCommandArgs(backup, ['--instance=x', '--help']).help).toBe(true);
  });
});

describe('validation with the command schema', () => {
  const v = (spec: CommandSpec, args: string[], env: Record<string, string> = {}) => validateCommand(spec, parseCommandArgs(spec, args), env);

  it('returns typed values', () => {
    const o = v(backup, ['-B', '/cat/', '--instance=node', '-b', 'ptrack', '-j4', '--ttl=30d', '--archive-timeout=5min', '-E', '/a:/b/', '-p', '5433']);
    expect(o).toEqual({
      backupPath: '/cat', instance: 'node', backupMode: 'PTRACK', threads: 4, ttl: 2592000, archiveTimeout: 300, externalDirs: ['/a', '/b'], pgport: 5433,
    });
    const r = v(restore, ['-B', '/c', '--instance', 'n', '-T', '/old\\=x=/new', '--recovery-target-lsn=0/4c000028', '--recovery-target-inclusive=off']);
    expect(r).toMatchObject({ tablespaceMapping: [{ oldDir: '/old=x', newDir: '/new' }], recoveryTargetLsn: '0/4C000028', recoveryTargetInclusive: false });
  });

  it('takes -B from BACKUP_PATH and checks it like -B', () => {
    expect(v(COMMANDS.init as CommandSpec, [], { BACKUP_PATH: '/from/env' })).toEqual({ backupPath: '/from/env' });
    expect(() => v(COMMANDS.init as CommandSpec, [], { BACKUP_PATH: 'relative' })).toThrow(
      'environment variable BACKUP_PATH: invalid value "relative": must be an absolute path',
    );
    expect(v(COMMANDS.init as CommandSpec, ['-B', '/cli'], { BACKUP_PATH: '/env' })).toEqual({ backupPath: '/cli' });
  });

  const base = ['-B', '/cat', '--instance=node'];
  it.each([
    ['backup', ['--instance=node', '-b', 'FULL'], 'required parameter not specified: BACKUP_PATH (-B, --backup-path)'],
    ['backup', ['-B', 'cat', '--instance=node', '-b', 'FULL'], 'option -B/--backup-path: invalid value "cat": must be an absolute path'],
    ['backup', ['-B', '/cat', '-b', 'FULL'], 'required parameter not specified: --instance=instance-name'],
    ['backup', base, 'required parameter not specified: -b/--backup-mode=backup-mode'],
    ['backup', [...base, '-b', 'WRONG'], 'option -b/--backup-mode: invalid value "WRONG": must be one of FULL, PAGE, PTRACK, DELTA'],
    ['backup', [...base, '-b', 'FULL', '--compress-level=12'], 'option --compress-level: invalid value "12": must be an integer from 0 to 9'],
    ['backup', [...base, '-b', 'FULL', '--compress-algorithm=lz5'], 'option --compress-algorithm: invalid value "lz5": must be one of none, zlib, pglz'],
    ['backup', [...base, '-b', 'FULL', '--retention-redundancy=-1'], 'option --retention-redundancy: invalid value "-1": must be an integer from 0 to 4294967295'],
    ['backup', [...base, '-b', 'FULL', '--ttl=abc'], 'option --ttl: invalid value "abc": must be an integer >= 0 with an optional unit ms, s, min, h or d (default s), e.g. 30d'],
    ['backup', [...base, '-b', 'FULL', '--expire-time=next week'], 'option --expire-time: invalid value "next week": must be an ISO-8601 timestamp such as \'2020-01-01 00:00:00+03\''],
    ['backup', [...base, '-b', 'FULL', '-j', '0'], 'option -j/--threads: invalid value "0": must be an integer from 1 to 1024'],
    ['backup', [...base, '-b', 'FULL', '-E', 'rel/dir'], 'option -E/--external-dirs: invalid value "rel/dir": every directory must be an absolute path ("rel/dir" is not); separate several with \':\''],
    ['backup', [...base, '-b', 'FULL', '--ttl=1d', '--expire-time=2030-01-01 00:00:00+00'], 'options --ttl and --expire-time cannot be used together: pin a backup either for a time (--ttl) or until a time (--expire-time)'],
    ['backup', [...base, '-b', 'FULL', '--instance=x/y'], 'option --instance is given more than once: give it once'],
    ['show', ['-B', '/c', '--format=xml'], 'option --format: invalid value "xml": must be one of plain, json'],
    ['show', ['-B', '/c', '--instance=a/b'], 'option --instance: invalid value "a/b": must be a non-empty name without \'/\' that does not start with \'.\''],
    ['show', ['-B', '/c', '-i', 'SCUN4E'], 'option -i/--backup-id needs --instance'],
    ['delete', [...base, '--status=FOO'], 'option --status: invalid value "FOO": must be one of OK, ERROR, RUNNING, MERGING, MERGED, DELETING, DELETED, DONE, ORPHAN, CORRUPT'],
    ['delete', base, 'nothing to delete: give -i/--backup-id, --status, --delete-expired, --merge-expired or --delete-wal'],
    ['delete', [...base, '-i', 'SCUN4E', '--delete-expired'], 'options --backup-id and --delete-expired cannot be used together: choose what to delete one way'],
    ['restore', [...base, '--recovery-target-inclusive=maybe', '--recovery-target-xid=7'], 'option --recovery-target-inclusive: invalid value "maybe": must be a boolean: true or false (also on/off, yes/no, 1/0)'],
    ['restore', [...base, '--recovery-target-inclusive=true'], 'option --recovery-target-inclusive needs a recovery target: --recovery-target-time, --recovery-target-xid, --recovery-target-lsn or --recovery-target-name'],
    ['restore', [...base, '-T', '/old/dir'], 'option -T/--tablespace-mapping: invalid value "/old/dir": must be OLDDIR=NEWDIR: the \'=\' is missing'],
    ['restore', [...base, '-T', 'old=/new'], 'option -T/--tablespace-mapping: invalid value "old=/new": old directory "old" must be an absolute path'],
    ['restore', [...base, '-T', '/a=/b', '-T', '/c=new'], 'option -T/--tablespace-mapping: invalid value "/c=new": new directory "new" must be an absolute path'],
    ['restore', [...base, '-T', '/a=/b=/c'], 'option -T/--tablespace-mapping: invalid value "/a=/b=/c": must be OLDDIR=NEWDIR with one unescaped \'=\' (write \'\\=\' for \'=\' inside a path)'],
    ['restore', [...base, '--recovery-target-time=2020-01-01 00:00:00+00', '--recovery-target-xid=100'], 'options --recovery-target-time and --recovery-target-xid cannot be used together: give one recovery target'],
    ['restore', [...base, '--recovery-target=immediate', '--recovery-target-lsn=0/1'], 'options --recovery-target and --recovery-target-lsn cannot be used together: give one recovery target'],
    ['restore', [...base, '--recovery-target-lsn=16/B374D848/0'], 'option --recovery-target-lsn: invalid value "16/B374D848/0": must be an LSN: two hexadecimal numbers separated by "/", e.g. 0/4C000028'],
    ['restore', [...base, '-i', 'SC-UN'], 'option -i/--backup-id: invalid value "SC-UN": must be a backup ID: 1 to 13 letters and digits (base36), e.g. SCUN4E'],
    ['restore', [...base, '-I', 'page'], 'option -I/--incremental-mode: invalid value "page": must be one of none, checksum, lsn'],
    ['set-backup', [...base, '-i', 'SCUN4E'], 'nothing to set: give --ttl, --expire-time or --note'],
    ['set-config', [...base, '--log-format-console=json'], 'option --log-format-console cannot be stored by set-config: give it on the command line of each command'],
    ['set-config', [...base, '-p', '99999'], 'option -p/--pgport: invalid value "99999": must be a port number from 1 to 65535'],
    ['archive-push', [...base], 'required parameter not specified: --wal-file-name=wal-file-name'],
    ['checkdb', ['--heapallindexed'], 'option --heapallindexed needs --amcheck'],
  ] as Array<[keyof typeof COMMANDS, string[], string]>)('%s %j', (name, args, message) => {
    expect(() => v(COMMANDS[name] as CommandSpec, args)).toThrow(message);
  });

  it('accepts --ttl=30d and an ISO-8601 --expire-time', () => {
    expect(v(COMMANDS['set-backup'] as CommandSpec, [...base, '-i', 'scun4e', '--ttl=30d'])).toMatchObject({ ttl: 30 * 86400, backupId: 'SCUN4E' });
    expect(v(COMMANDS['set-backup'] as CommandSpec, [...base, '-i', 'SCUN4E', '--expire-time=2020-01-01 00:00:00+03'])).toMatchObject({
      expireTime: Date.UTC(2019, 11, 31, 21) / 1000,
    });
  });
});
