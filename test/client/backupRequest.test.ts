import { buildBackupRequest } from '../../client/commands/backupRequest';
import { COMMANDS, type BackupOptions, type CommandSpec } from '../../client/options/commands';
import { parseCommandArgs } from '../../client/options/parseArgv';
import { validateCommand } from '../../client/options/validate';
import { resolveInstanceOptions } from '../../client/resolveInstanceOptions';

function req(args: string[], file: Record<string, string | number>) {
  const spec = COMMANDS.backup as CommandSpec;
  const opts = validateCommand(spec, parseCommandArgs(spec, ['-B', '/cat', '--instance=node', ...args]), {}) as unknown as BackupOptions;
  return buildBackupRequest(opts, resolveInstanceOptions({ backupPath: '/cat', instance: 'node', options: opts, file, env: { PGUSER: 'pg' } }));
}

const FILE = { pgdata: '/data', 'system-identifier': '7364313570668255886', 'xlog-seg-size': 16777216, 'compress-algorithm': 'zlib', pghost: '/sock' };

describe('buildBackupRequest', () => {
  it('combines the command line with the instance settings', () => {
    expect(req(['-b', 'full', '-j', '3', '--stream', '-C', '--ttl=1d', '--note=n', '-p', '5433', '--no-sync'], FILE)).toEqual({
      backupPath: '/cat', instance: 'node', backupMode: 'FULL', pgdata: '/data', systemIdentifier: '7364313570668255886', xlogSegSize: 16777216,
      connection: { pghost: '/sock', pgport: 5433, pguser: 'pg', pgdatabase: 'pg' },
      threads: 3, smoothCheckpoint: true, slot: undefined, tempSlot: false, backupPgLog: false, backupPgReplslot: false, externalDirs: [],
      noValidate: false, noSync: true, skipBlockValidation: false, note: 'n', compressAlg: 'zlib', compressLevel: 1,
      archiveTimeoutSec: 300, rwTimeoutSec: 120, ttlSec: 86400, expireTime: undefined,
    });
  });

  it('carries no password', () => {
    expect(JSON.stringify(req(['-b', 'FULL', '-W', 'secret'], FILE))).not.toContain('secret');
  });

  it('refuses what the workflow cannot do yet, and a missing PGDATA', () => {
    expect(req(['-b', 'delta'], FILE).backupMode).toBe('DELTA');
    expect(() => req(['-b', 'PAGE'], FILE)).toThrow('option -b/--backup-mode: invalid value "PAGE": only FULL and DELTA backups are implemented so far');
    expect(() => req(['-b', 'FULL'], { ...FILE, pgdata: undefined as unknown as string })).toThrow(/no data directory for instance 'node'/);
  });
});
