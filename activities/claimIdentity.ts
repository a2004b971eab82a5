/**
 * Which claim file an attempt wrote (attemptGuard.ts). A claim is replaced by rename, so a newer
 * claim is a new inode; its number may be one an older claim freed, its change time in nanoseconds
 * will not be the same. Kept free of Temporal so that the file threads can check it too.
 */
import * as fs from 'node:fs';

function identityOf(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.ctimeNs}`;
}

export async function claimIdentity(file: string): Promise<string> {
  return identityOf(await fs.promises.stat(file, { bigint: true }));
}

/** '' when the claim file is gone. */
export function claimIdentitySync(file: string): string {
  try {
    return identityOf(fs.statSync(file, { bigint: true }));
  } catch {
    return '';
  }
}

/** What a file thread needs to check that its attempt still holds the claim. */
export interface ClaimCheck {
  file: string;
  identity: string;
}
