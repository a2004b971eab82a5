import * as os from 'node:os';

/** The smoke test's activity: proves a real worker on this host ran it. */
export async function ping(message: string): Promise<string> {
  return `pong: ${message} from ${os.hostname()} pid ${process.pid}`;
}
