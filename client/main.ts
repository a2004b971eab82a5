/**
 * gs_probackup's entry point: `main(argv, env)` returns the exit code; streams are injected so
 * tests run commands in-process. Errors are one `ERROR: message` line and exit code 1 (spec §14).
 */
import { Logger, type TextSink } from './logger';
import type { CommandContext } from './context';
import { CliError } from './errors';
import { HANDLERS } from './commands';
import { COMMANDS, COMMAND_NAMES, type CommandName, type CommandSpec } from './options/commands';
import { commandHelp, mainHelp } from './options/help';
import { parseCommandArgs } from './options/parseArgv';
import { validateCommand, type Env } from './options/validate';
import { loggingFromOptions } from './resolveInstanceOptions';
import { PROGRAM, versionString } from './version';

export interface MainIo {
  stdout?: TextSink;
  stderr?: TextSink;
  now?: () => Date;
}

/** Commands whose command line pg_probackup writes to the log file. */
const LOGGED_COMMANDS = new Set(['backup', 'restore', 'validate', 'delete', 'merge', 'set-config', 'set-backup']);

/** The log file must not keep a password typed with -W/--password. */
export function maskPassword(argv: readonly string[]): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    if (out[i] === '-W' || out[i] === '--password') {
      if (i + 1 < out.length) out[i + 1] = '********';
    } else if (out[i].startsWith('--password=')) {
      out[i] = '--password=********';
    } else if (/^-W./.test(out[i])) {
      out[i] = '-W********';
    }
  }
  return out;
}

function isCommand(name: string): name is CommandName {
  return (COMMAND_NAMES as string[]).includes(name);
}

export async function main(argv: readonly string[], env: Env = process.env, io: MainIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const now = io.now ?? (() => new Date());
  const logger = new Logger(stderr, {}, now);
  try {
    return await run(argv, env, { stdout, stderr, now, logger });
  } catch (e) {
    if (e instanceof CliError) {
      logger.error(e.message);
      return e.exitCode;
    }
    logger.error((e as Error)?.message ?? String(e));
    if (env.GS_PROBACKUP_DEBUG) stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    return 1;
  }
}

async function run(argv: readonly string[], env: Env, io: { stdout: TextSink; stderr: TextSink; now: () => Date; logger: Logger }): Promise<number> {
  const first = argv[0];
  if (first === undefined) throw new CliError(`no command specified: run "${PROGRAM} help" for the list of commands`);
  if (first === '-?' || first === '--help') {
    io.stdout.write(mainHelp());
    return 0;
  }
  if (first === '-V' || first === '--version') {
    io.stdout.write(`${versionString()}\n`);
    return 0;
  }
  if (first.startsWith('-')) {
    throw new CliError(`option "${first}" comes before the command: write the command first, e.g. "${PROGRAM} show ${first} ..."`);
  }
  if (!isCommand(first)) throw new CliError(`unknown command "${first}": must be one of ${COMMAND_NAMES.join(', ')}`);

  const spec = COMMANDS[first] as CommandSpec;
  const raw = parseCommandArgs(spec, argv.slice(1));
  if (raw.help) {
    io.stdout.write(commandHelp(first));
    return 0;
  }
  if (first === 'help') {
    const [topic, extra] = raw.positionals;
    if (extra !== undefined) throw new CliError(`unexpected argument "${extra}": help takes one command name`);
    if (topic === undefined) {
      io.stdout.write(mainHelp());
      return 0;
    }
    if (!isCommand(topic)) throw new CliError(`unknown command "${topic}": must be one of ${COMMAND_NAMES.join(', ')}`);
    io.stdout.write(commandHelp(topic));
    return 0;
  }
  if (first === 'version') {
    io.stdout.write(`${versionString()}\n`);
    return 0;
  }

  const opts = validateCommand(spec, raw, env) as Record<string, unknown>;
  io.logger.configure(loggingFromOptions(opts.backupPath as string | undefined, opts));
  if (LOGGED_COMMANDS.has(first)) io.logger.commandLine(`command: ${PROGRAM} ${maskPassword(argv).join(' ')}`);
  const ctx: CommandContext = { stdout: io.stdout, stderr: io.stderr, env, logger: io.logger, argv, now: io.now };
  const load = HANDLERS[first] as () => Promise<(o: unknown, c: CommandContext) => Promise<number>>;
  return (await load())(opts, ctx);
}

if (require.main === module) {
  // A command whose work waits on something that will never come (a stream that never ends) would
  // let Node exit with 0, and archive-push exiting 0 tells PostgreSQL a WAL file is safe.
  let settled = false;
  process.exitCode = 1;
  process.on('exit', () => {
    if (!settled) process.stderr.write('ERROR: internal error: the command stopped before it finished\n');
  });
  main(process.argv.slice(2)).then(
    (code) => {
      settled = true;
      process.exitCode = code;
      // The command is over: a stray handle (an SDK timer, a connection a library keeps) must
      // not keep the process alive. Output has a moment to drain first.
      setTimeout(() => process.exit(code), 3000).unref();
    },
    (e) => {
      settled = true;
      process.stderr.write(`ERROR: ${(e as Error)?.message ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
