import { main } from '../../client/main';

export interface MainResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured streams; env is exactly what the caller passes. */
export async function runMain(argv: string[], env: Record<string, string | undefined> = {}, now?: () => Date): Promise<MainResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, env, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    now,
  });
  return { code, stdout, stderr };
}
