import * as os from 'node:os';
import { COMMANDS, type CommandSpec } from '../../client/options/commands';
import { parseCommandArgs } from '../../client/options/parseArgv';
import { validateCommand } from '../../client/options/validate';
import { configValuesFromOptions, resolveInstanceOptions } from '../../client/resolveInstanceOptions';

const backupOpts = (args: string[]) => {
  const spec = COMMANDS.backup as CommandSpec;
  return validateCommand(spec, parseCommandArgs(spec, ['-B', '/cat', '--instance=node', '-b', 'FULL', ...args]), {}) as Record<string, unknown>;
};

describe('resolveInstanceOptions: command line > pg_probackup.conf > environment > defaults', () => {
  const file = { pgdata: '/conf/data', pghost: '/conf/sock', 'compress-level': 5, 'archive-timeout': 600, 'system-identifier': '42', 'xlog-seg-size': 33554432 };
  const env = { PGDATA: '/env/data', PGHOST: '/env/sock', PGPORT: '5544', PGUSER: 'envuser' };

  it('takes each value from the highest source that has it', () => {
    const r = resolveInstanceOptions({ backupPath: '/cat', instance: 'node', options: backupOpts(['-D', '/cli/data', '--compress-level=9']), file, env });
    expect(r.pgdata).toBe('/cli/data');
    expect(r.sources.pgdata).toBe('command line');
    expect(r.connection).toEqual({ pghost: '/conf/sock', pgport: 5544, pguser: 'envuser', pgdatabase: 'envuser' });
    expect(r.sources.pghost).toBe('configuration file');
    expect(r.sources.pgport).toBe('environment');
    expect(r.compressLevel).toBe(9);
    expect(r.compressAlg).toBe('none');
    expect(r.sources['compress-algorithm']).toBe('default');
    expect(r.archiveTimeoutSec).toBe(600);
    expect(r.rwTimeoutSec).toBe(120);
    expect(r.systemIdentifier).toBe('42');
    expect(r.xlogSegSize).toBe(33554432);
    expect(r.retention).toEqual({ redundancy: 0, windowDays: 0, walDepth: 0 });
    expect(r.logging).toMatchObject({ levelConsole: 'INFO', levelFile: 'OFF', directory: '/cat/log', filename: 'pg_probackup.log' });
  });

  it('the configuration file beats the environment; the environment fills gaps', () => {
    const r = resolveInstanceOptions({ backupPath: '/cat', instance: 'node', options: backupOpts([]), file, env });
    expect(r.pgdata).toBe('/conf/data');
    const r2 = resolveInstanceOptions({ backupPath: '/cat', instance: 'node', options: backupOpts([]), file: {}, env });
    expect(r2.pgdata).toBe('/env/data');
    expect(r2.sources.pgdata).toBe('environment');
  });

  it('pgdatabase falls back to PGUSER, then to the OS user', () => {
    const r = resolveInstanceOptions({ backupPath: '/cat', instance: 'node', options: backupOpts([]), file: {}, env: {} });
    expect(r.connection.pgdatabase).toBe(os.userInfo().username);
    const r2 = resolveInstanceOptions({ backupPath: '/cat', instance: 'node', options: backupOpts(['-d', 'db1', '-t', '1h']), file: {}, env: { PGDATABASE: 'db2' } });
    expect(r2.connection.pgdatabase).toBe('db1');
    expect(r2.rwTimeoutSec).toBe(3600);
  });

  it('--compress means zlib unless an algorithm is given', () => {
    expect(resolveInstanceOptions({ backupPath: '/c', instance: 'n', options: backupOpts(['--compress']), file: {}, env: {} }).compressAlg).toBe('zlib');
    expect(resolveInstanceOptions({ backupPath: '/c', instance: 'n', options: backupOpts([]), file: { 'compress-algorithm': 'pglz' }, env: {} }).compressAlg).toBe('pglz');
  });

  it('-E from the command line replaces the configured list; none empties it', () => {
    const f = { 'external-dirs': '/x:/y' };
    expect(resolveInstanceOptions({ backupPath: '/c', instance: 'n', options: backupOpts([]), file: f, env: {} }).externalDirs).toEqual(['/x', '/y']);
    expect(resolveInstanceOptions({ backupPath: '/c', instance: 'n', options: backupOpts(['-E', '/z']), file: f, env: {} }).externalDirs).toEqual(['/z']);
    expect(resolveInstanceOptions({ backupPath: '/c', instance: 'n', options: backupOpts(['-E', 'none']), file: f, env: {} }).externalDirs).toEqual([]);
  });

  it('refuses an invalid environment value naming the variable', () => {
    expect(() => resolveInstanceOptions({ backupPath: '/c', instance: 'n', options: backupOpts([]), file: {}, env: { PGPORT: 'fivefour' } })).toThrow(
      'environment variable PGPORT: invalid value "fivefour": must be a port number from 1 to 65535',
    );
  });

  it('configValuesFromOptions maps option keys to pg_probackup.conf keys', () => {
    expect(configValuesFromOptions(backupOpts(['-E', '/a:/b', '--archive-timeout=1h', '--log-level-file=verbose', '-U', 'u']))).toEqual({
      'external-dirs': '/a:/b', 'archive-timeout': 3600, 'log-level-file': 'VERBOSE', pguser: 'u',
    });
  });
});
