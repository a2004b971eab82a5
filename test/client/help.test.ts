import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS, COMMAND_NAMES, type CommandSpec } from '../../client/options/commands';
import { commandHelp, mainHelp, synopsis } from '../../client/options/help';
import { OPTIONS } from '../../client/options/optionDefs';
import { TOOL_VERSION, versionString } from '../../client/version';
import { runMain } from './runMain';

describe('help generated from the command schemas', () => {
  it.each(COMMAND_NAMES)('help %s lists every option the command accepts, with its short form', (name) => {
    const spec = COMMANDS[name] as CommandSpec;
    const text = commandHelp(name);
    expect(text).toContain(`Usage:\n  ${synopsis(spec)}\n`);
    for (const k of spec.keys) {
      const def = OPTIONS[k];
      expect(text).toContain(`--${def.long}`);
      if (def.short) expect(text).toContain(`-${def.short}, --${def.long}`);
    }
  });

  it('does not list options a command refuses', () => {
    expect(commandHelp('init')).not.toContain('--instance');
    expect(commandHelp('show')).not.toContain('--compress-level');
  });

  it('the main help names every command', () => {
    const text = mainHelp();
    for (const name of COMMAND_NAMES) expect(text).toContain(`  gs_probackup ${name}`);
  });

  it('covers the manual: every option of every command of gs_probackup.md is accepted by that command', () => {
    // From the synopses of /work/shared/reference/gs_probackup.md (Command Description).
    const manual: Record<string, string[]> = {
      init: ['-B'],
      'add-instance': ['-B', '--instance', '-D', '-E', '--remote-proto', '--remote-host', '--remote-port', '--remote-user', '--remote-path', '--remote-libpath', '--ssh-options'],
      'del-instance': ['-B', '--instance'],
      'set-config': ['-B', '--instance', '-D', '-E', '--archive-timeout', '--retention-redundancy', '--retention-window', '--wal-depth', '--compress-algorithm', '--compress-level', '-d', '-h', '-p', '-U', '--log-level-console', '--log-level-file', '--log-filename', '--error-log-filename', '--log-directory', '--log-rotation-size', '--log-rotation-age', '--remote-host'],
      'set-backup': ['-B', '--instance', '-i', '--note', '--ttl', '--expire-time'],
      'show-config': ['-B', '--instance', '--format'],
      show: ['-B', '--instance', '-i', '--archive', '--format'],
      backup: ['-B', '--instance', '-b', '-D', '-C', '-S', '--temp-slot', '--backup-pg-log', '-j', '--progress', '--no-validate', '--skip-block-validation', '-E', '--no-sync', '--note', '--archive-timeout', '-t', '--retention-redundancy', '--retention-window', '--wal-depth', '--delete-wal', '--delete-expired', '--merge-expired', '--compress-algorithm', '--compress-level', '--compress', '-d', '-h', '-p', '-U', '-w', '-W', '--remote-host', '--ttl', '--expire-time', '--backup-pg-replslot'],
      restore: ['-B', '--instance', '-D', '-i', '-j', '--progress', '--force', '--no-sync', '--no-validate', '--skip-block-validation', '--external-mapping', '-T', '--skip-external-dirs', '-I', '--recovery-target-lsn', '--recovery-target-name', '--recovery-target-time', '--recovery-target-xid', '--recovery-target-inclusive', '--remote-host', '--log-level-console'],
      merge: ['-B', '--instance', '-i', '-j', '--progress', '--log-level-file'],
      delete: ['-B', '--instance', '-i', '--delete-expired', '--merge-expired', '--status', '--delete-wal', '-j', '--progress', '--retention-redundancy', '--retention-window', '--wal-depth', '--dry-run', '--log-level-file'],
      validate: ['-B', '--instance', '-i', '-j', '--progress', '--skip-block-validation', '--recovery-target-time', '--recovery-target-xid', '--recovery-target-lsn', '--recovery-target-name', '--recovery-target-inclusive'],
    };
    for (const [name, opts] of Object.entries(manual)) {
      const spec = COMMANDS[name as keyof typeof COMMANDS] as CommandSpec;
      const accepted = new Set(spec.keys.flatMap((k) => [`--${OPTIONS[k].long}`, ...(OPTIONS[k].short ? [`-${OPTIONS[k].short}`] : [])]));
      for (const o of opts) expect({ name, o, ok: accepted.has(o) }).toEqual({ name, o, ok: true });
    }
  });
});

describe('help and version through main()', () => {
  it.each([[['-?']], [['--help']], [['help']]])('%j prints the main help on stdout, exit 0', async (argv) => {
    const r = await runMain(argv);
    expect(r).toEqual({ code: 0, stdout: mainHelp(), stderr: '' });
  });

  it.each([[['help', 'backup']], [['backup', '--help']], [['backup', '--instance=x', '--help']]])('%j prints the backup help', async (argv) => {
    const r = await runMain(argv);
    expect(r).toEqual({ code: 0, stdout: commandHelp('backup'), stderr: '' });
  });

  it('help of an unknown command is an error', async () => {
    const r = await runMain(['help', 'bakup']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ERROR: unknown command "bakup": must be one of ${COMMAND_NAMES.join(', ')}\n`);
  });

  it.each([[['-V']], [['--version']], [['version']]])('%j prints the version with gs_probackup first', async (argv) => {
    const r = await runMain(argv);
    expect(r).toEqual({ code: 0, stdout: 'gs_probackup 2.5.16 (gs_probackup on Temporal 0.1.0, PostgreSQL 15)\n', stderr: '' });
    expect(r.stdout).toBe(`${versionString()}\n`);
  });

  it('TOOL_VERSION is the package version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(TOOL_VERSION).toBe(pkg.version);
  });

  it.each([
    [[], 'ERROR: no command specified: run "gs_probackup help" for the list of commands\n'],
    [['bakup'], `ERROR: unknown command "bakup": must be one of ${COMMAND_NAMES.join(', ')}\n`],
    [['-B', '/x', 'show'], 'ERROR: option "-B" comes before the command: write the command first, e.g. "gs_probackup show -B ..."\n'],
  ])('%j is refused', async (argv, stderr) => {
    expect(await runMain(argv)).toEqual({ code: 1, stdout: '', stderr });
  });
});
