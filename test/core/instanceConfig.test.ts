import {
  CONFIG_OPTIONS,
  parseInstanceConfig,
  serializeInstanceConfig,
  showConfigJson,
  showConfigPlain,
} from '../../core/instanceConfig';

const FILE = '/cat/backups/node/pg_probackup.conf';

describe('pg_probackup.conf', () => {
  it('reads what it writes, groups as comments, units scaled, spaces quoted', () => {
    const values = {
      pgdata: '/var/lib/pgsql/15/data',
      'system-identifier': '7364313570668255886',
      'xlog-seg-size': 16777216,
      pgdatabase: 'backupdb',
      'archive-timeout': 600,
      'log-rotation-age': 86400000,
      'log-rotation-size': 10240,
      'compress-algorithm': 'zlib',
      'ssh-options': '-c aes128-ctr -F /etc/ssh/cfg',
    };
    const text = serializeInstanceConfig(values);
    expect(text).toBe(
      [
        '# Backup instance information',
        'pgdata = /var/lib/pgsql/15/data',
        'system-identifier = 7364313570668255886',
        'xlog-seg-size = 16777216',
        '# Connection parameters',
        'pgdatabase = backupdb',
        '# Archive parameters',
        'archive-timeout = 10min',
        '# Logging parameters',
        'log-rotation-size = 10MB',
        'log-rotation-age = 1d',
        '# Compression parameters',
        'compress-algorithm = zlib',
        '# Remote access parameters',
        "ssh-options = '-c aes128-ctr -F /etc/ssh/cfg'",
        '',
      ].join('\n'),
    );
    expect(parseInstanceConfig(text, FILE)).toEqual(values);
  });

  it("accepts pg_probackup's key spellings, comments and case-insensitive values", () => {
    const v = parseInstanceConfig('# c\n  Compress_Algorithm = ZLIB # trailing\n\nlog_level_file = verbose\n', FILE);
    expect(v).toEqual({ 'compress-algorithm': 'zlib', 'log-level-file': 'VERBOSE' });
    expect(parseInstanceConfig("restore-command = 'cp ''a b'' %p'\n", FILE)).toEqual({ 'restore-command': "cp 'a b' %p" });
    expect(parseInstanceConfig('ssh-options = -c aes128-ctr -F x   # set by hand\n', FILE)).toEqual({ 'ssh-options': '-c aes128-ctr -F x' });
  });

  it('refuses an unknown key naming the file, the line and the key', () => {
    expect(() => parseInstanceConfig('pgdata = /x\nbogus-key = 1\n', FILE)).toThrow(
      'invalid option "bogus-key" in file "/cat/backups/node/pg_probackup.conf" line 2: not a pg_probackup.conf option',
    );
  });

  it('refuses an invalid value naming the rule', () => {
    expect(() => parseInstanceConfig('compress-level = 12\n', FILE)).toThrow(
      'option "compress-level" in file "/cat/backups/node/pg_probackup.conf" line 1: invalid value "12": must be an integer from 0 to 9',
    );
    expect(() => parseInstanceConfig('log-format-console = JSON\n', FILE)).toThrow(/allowed only on the command line/);
    expect(() => parseInstanceConfig("pgdata = '/x\n", FILE)).toThrow(/unterminated quoted value/);
  });

  it('show-config prints every option with a value, defaults included (spec §6 example)', () => {
    const v = { pgdata: '/var/lib/pgsql/16/data', 'system-identifier': '7364313570668255886', 'xlog-seg-size': 16777216, pgdatabase: 'backupdb' };
    expect(showConfigPlain(v)).toBe(`# Backup instance information
pgdata = /var/lib/pgsql/16/data
system-identifier = 7364313570668255886
xlog-seg-size = 16777216
# Connection parameters
pgdatabase = backupdb
# Replica parameters
replica-timeout = 5min
# Archive parameters
archive-timeout = 5min
# Logging parameters
log-level-console = INFO
log-level-file = OFF
log-format-console = PLAIN
log-format-file = PLAIN
log-filename = pg_probackup.log
log-rotation-size = 0TB
log-rotation-age = 0d
# Retention parameters
retention-redundancy = 0
retention-window = 0
wal-depth = 0
# Compression parameters
compress-algorithm = none
compress-level = 1
# Remote access parameters
remote-proto = ssh
`);
    expect(showConfigPlain(v, { baseUnits: true })).toContain('archive-timeout = 300\n');
    expect(showConfigPlain(v, { baseUnits: true })).toContain('log-rotation-size = 0\n');
  });

  it('show-config --format=json: strings, or bare numbers with --no-scale-units', () => {
    const v = { pgdata: '/d', 'system-identifier': '7364313570668255886', 'xlog-seg-size': 16777216 };
    const scaled = showConfigJson(v);
    expect(scaled.startsWith('{\n    "pgdata": "/d",\n    "system-identifier": "7364313570668255886",\n')).toBe(true);
    expect(scaled).toContain('    "archive-timeout": "5min",\n');
    expect(scaled.endsWith('    "remote-proto": "ssh"\n}\n')).toBe(true);
    const base = showConfigJson(v, { baseUnits: true });
    expect(base).toContain('    "system-identifier": 7364313570668255886,\n');
    expect(base).toContain('    "archive-timeout": 300,\n');
    expect(base).toContain('    "log-level-console": "INFO",\n');
    expect(JSON.parse(scaled)['compress-level']).toBe('1');
  });

  it('lists the options in pg_probackup instance_options[] order', () => {
    expect(CONFIG_OPTIONS.map((o) => o.key)).toEqual([
      'pgdata', 'system-identifier', 'xlog-seg-size', 'external-dirs', 'pgdatabase', 'pghost', 'pgport', 'pguser',
      'master-db', 'master-host', 'master-port', 'master-user', 'replica-timeout', 'archive-timeout', 'archive-host',
      'archive-port', 'archive-user', 'restore-command', 'log-level-console', 'log-level-file', 'log-format-console',
      'log-format-file', 'log-filename', 'error-log-filename', 'log-directory', 'log-rotation-size', 'log-rotation-age',
      'retention-redundancy', 'retention-window', 'wal-depth', 'compress-algorithm', 'compress-level', 'remote-proto',
      'remote-host', 'remote-port', 'remote-path', 'remote-user', 'ssh-options', 'ssh-config',
    ]);
  });
});
