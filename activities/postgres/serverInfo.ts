import { ApplicationFailure } from '@temporalio/activity';
import { primaryConninfo } from '../../core/conninfo';
import type { PgConnection } from '../../core/requests';
import { closePg, connectPg, queryOne } from './connection';

export interface ServerInfo {
  systemIdentifier: string;
  /** Major version as backup.control writes it ("15"). */
  serverVersion: string;
  serverVersionNum: number;
  dataChecksums: boolean;
  isInRecovery: boolean;
  timeline: number;
  walSegmentSize: number;
  isSuperuser: boolean;
  /** The connection's parameters as libpq words, recorded in backup.control for restore -R. */
  primaryConninfo: string;
}

/** What the backup must know about the server before it starts (spec §7.1 steps 2–3). */
export async function inspectInstanceServer(input: { connection: PgConnection }): Promise<ServerInfo> {
  const client = await connectPg(input.connection);
  try {
    const r = await queryOne<Record<string, string>>(
      client,
      `SELECT (SELECT system_identifier FROM pg_control_system())::text AS sysid,
              current_setting('server_version_num') AS vnum,
              current_setting('data_checksums') AS checksums,
              pg_is_in_recovery()::text AS recovery,
              (SELECT timeline_id FROM pg_control_checkpoint())::text AS tli,
              (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS segsize,
              current_setting('block_size') AS blcksz,
              current_setting('wal_block_size') AS walblcksz,
              current_setting('is_superuser') AS superuser`,
    );
    const vnum = Number(r.vnum);
    if (Math.floor(vnum / 10000) !== 15) {
      throw ApplicationFailure.nonRetryable(`server version is ${vnum}, but this gs_probackup supports PostgreSQL 15 only`, 'ServerMismatch');
    }
    if (r.blcksz !== '8192' || r.walblcksz !== '8192') {
      throw ApplicationFailure.nonRetryable(
        `block_size ${r.blcksz} / wal_block_size ${r.walblcksz}: only 8192-byte blocks are supported`,
        'ServerMismatch',
      );
    }
    return {
      systemIdentifier: r.sysid,
      serverVersion: String(Math.floor(vnum / 10000)),
      serverVersionNum: vnum,
      dataChecksums: r.checksums === 'on',
      isInRecovery: r.recovery === 'true',
      timeline: Number(r.tli),
      walSegmentSize: Number(r.segsize),
      isSuperuser: r.superuser === 'on',
      primaryConninfo: primaryConninfo({ user: client.user, host: client.host, port: client.port, env: process.env }),
    };
  } finally {
    await closePg(client);
  }
}
