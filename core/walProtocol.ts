/**
 * The streaming replication protocol's CopyData payloads (PostgreSQL docs, "Streaming Replication
 * Protocol"): XLogData and keepalive from the server, standby status updates from us.
 * Timestamps are microseconds since 2000-01-01.
 */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;

export type ReplicationMessage =
  | { kind: 'xlog'; start: bigint; walEnd: bigint; data: Buffer }
  | { kind: 'keepalive'; walEnd: bigint; replyRequested: boolean }
  | { kind: 'unknown'; tag: number };

export function parseReplicationMessage(buf: Buffer): ReplicationMessage {
  const tag = buf[0];
  if (tag === 0x77 /* w */) {
    return { kind: 'xlog', start: buf.readBigUInt64BE(1), walEnd: buf.readBigUInt64BE(9), data: buf.subarray(25) };
  }
  if (tag === 0x6b /* k */) {
    return { kind: 'keepalive', walEnd: buf.readBigUInt64BE(1), replyRequested: buf[17] === 1 };
  }
  return { kind: 'unknown', tag };
}

/** 'r': written, flushed and applied positions; we apply nothing, so apply = flush. */
export function standbyStatusUpdate(write: bigint, flush: bigint, nowMs: number, replyRequested = false): Buffer {
  const b = Buffer.alloc(34);
  b[0] = 0x72;
  b.writeBigUInt64BE(write, 1);
  b.writeBigUInt64BE(flush, 9);
  b.writeBigUInt64BE(flush, 17);
  b.writeBigInt64BE(BigInt(Math.floor(nowMs)) * 1000n - PG_EPOCH_OFFSET_US, 25);
  b[33] = replyRequested ? 1 : 0;
  return b;
}
