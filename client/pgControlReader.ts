/**
 * Stand-in until core/pgControl.ts (H2) lands: the two fields add-instance needs from a
 * PostgreSQL 15 global/pg_control (x86-64 layout: system_identifier at 0, pg_control_version at 8,
 * xlog_seg_size at 228 — checked against pg_controldata in test/client/pgControlReader.test.ts).
 */
export interface PgControlIdentity {
  systemIdentifier: string;
  pgControlVersion: number;
  xlogSegSize: number;
}

export function readPgControlIdentity(buf: Buffer, source: string): PgControlIdentity {
  if (buf.length < 232) throw new Error(`file "${source}" is too short (${buf.length} bytes) to be a pg_control file`);
  const pgControlVersion = buf.readUInt32LE(8);
  if (pgControlVersion !== 1300) {
    throw new Error(`file "${source}" has pg_control version ${pgControlVersion}, expected 1300 (PostgreSQL 15)`);
  }
  return { systemIdentifier: buf.readBigUInt64LE(0).toString(), pgControlVersion, xlogSegSize: buf.readUInt32LE(228) };
}
