/**
 * One live attempt per batch. A worker frozen past its heartbeat timeout (SIGSTOP, a VM pause, a
 * stalled disk) wakes up still running an attempt that Temporal has already retried elsewhere, and
 * the two run side by side for a while: the stale one only learns it was superseded at its next
 * heartbeat. Each attempt therefore writes to temp names of its own, and before it puts a file in
 * place or records a result it checks that it is still the batch's claimant: the newest attempt
 * claims the batch before it copies anything, so whatever a stale attempt renames earlier is
 * overwritten, and nothing it would rename later gets past the check.
 */
import * as fs from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { CancelledFailure, Context } from '@temporalio/activity';
import { writeFileAtomic } from './atomicWrite';
import { claimIdentity, type ClaimCheck } from './claimIdentity';

export class AttemptGuard {
  private constructor(
    private readonly claimFile: string,
    private readonly token: string,
    /** The claim file as this attempt wrote it: a stat per check instead of a read (one per file copied). */
    private readonly identity: string,
    /** Suffix of this attempt's temp files. */
    readonly tmpSuffix: string,
  ) {}

  /** Claims `claimFile` for the current activity attempt. */
  static async claim(claimFile: string): Promise<AttemptGuard> {
    const attempt = Context.current().info.attempt;
    const token = `${attempt}:${randomUUID()}`;
    await writeFileAtomic(claimFile, token, { sync: false });
    const identity = await claimIdentity(claimFile);
    const guard = new AttemptGuard(claimFile, token, identity, `.gs_tmp${attempt}`);
    // The identity is this attempt's only if the content read after it still is this attempt's token.
    if ((await fs.readFile(claimFile, 'utf8').catch(() => '')) !== token) await guard.superseded();
    return guard;
  }

  /** Throws when the activity was cancelled or a newer attempt claimed the batch. */
  async check(): Promise<void> {
    const ctx = Context.current();
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure(`attempt ${ctx.info.attempt} was cancelled`);
    if ((await claimIdentity(this.claimFile).catch(() => '')) !== this.identity) await this.superseded();
  }

  private async superseded(): Promise<never> {
    const holder = await fs.readFile(this.claimFile, 'utf8').catch(() => '');
    throw new CancelledFailure(`attempt ${Context.current().info.attempt} was superseded by attempt ${holder.split(':')[0] || '?'}`);
  }

  /** For a file thread that puts files in place itself (copySmallFiles). */
  get claim(): ClaimCheck {
    return { file: this.claimFile, identity: this.identity };
  }

  /** Puts a finished temp file in place, if this attempt is still the live one. */
  async commit(tmp: string, dst: string): Promise<void> {
    await this.check();
    await fs.rename(tmp, dst);
  }
}

/** Removes what attempts that died or were superseded left under their temp names, in these directories. */
export async function removeStaleTempFiles(dirs: Iterable<string>, tempName: RegExp): Promise<number> {
  let removed = 0;
  for (const d of new Set(dirs)) {
    const names = await fs.readdir(d).catch(() => [] as string[]);
    for (const n of names) {
      if (!tempName.test(n)) continue;
      await fs.rm(`${d}/${n}`, { force: true });
      removed++;
    }
  }
  return removed;
}
