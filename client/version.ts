import { PROGRAM_NAME, PROGRAM_VERSION } from '../core/types';

export const PROGRAM = PROGRAM_NAME;
/** Version of this implementation; test/client/version.test.ts keeps it equal to package.json. */
export const TOOL_VERSION = '0.1.0';
export const PG_MAJOR = 15;

/** `gs_probackup 2.5.16 (gs_probackup on Temporal 0.1.0, PostgreSQL 15)`: program name first, as scripts parse it. */
export function versionString(): string {
  return `${PROGRAM_NAME} ${PROGRAM_VERSION} (gs_probackup on Temporal ${TOOL_VERSION}, PostgreSQL ${PG_MAJOR})`;
}
