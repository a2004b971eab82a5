/** An error the user can act on: printed as `ERROR: <message>`, exit code 1 (spec §14). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** A subcommand that parses and validates but has no behaviour yet. */
export class NotImplementedError extends CliError {
  constructor(command: string) {
    super(`${command} is not implemented yet`);
    this.name = 'NotImplementedError';
  }
}
