import type { Logger, TextSink } from './logger';
import type { Env } from './options/validate';

/** What a command handler may touch besides the catalog: injected so tests run main() in-process. */
export interface CommandContext {
  stdout: TextSink;
  stderr: TextSink;
  env: Env;
  logger: Logger;
  /** The arguments after the program name, as typed. */
  argv: readonly string[];
  now: () => Date;
}
