/**
 * global/pg_control of PostgreSQL 15/16 (pg_control_version 1300), x86-64 layout. Offsets follow
 * struct ControlFileData / CheckPoint in src/include/catalog/pg_control.h with 8-byte alignment of
 * uint64/double, verified against pg_controldata of a real PG15 cluster.
 */
import { crc32c } from './crc32c';
import { lsnFromBigInt, type Lsn } from './lsn';

export const PG_CONTROL_VERSION = 1300;
/** offsetof(ControlFileData, crc): the CRC covers bytes [0, 288). */
export const PG_CONTROL_CRC_OFFSET = 288;
/** sizeof(ControlFileData). */
export const PG_CONTROL_DATA_SIZE = 296;
/** On disk the struct is padded with zeros to PG_CONTROL_FILE_SIZE. */
export const PG_CONTROL_FILE_SIZE = 8192;

/** Offsets (bytes) of ControlFileData fields. */
export const PG_CONTROL_OFFSETS = {
  systemIdentifier: 0,
  pgControlVersion: 8,
  catalogVersion: 12,
  state: 16,
  time: 24,
  checkPoint: 32,
  checkPointCopy: 40,
  unloggedLsn: 128,
  minRecoveryPoint: 136,
  minRecoveryPointTli: 144,
  backupStartPoint: 152,
  backupEndPoint: 160,
  backupEndRequired: 168,
  walLevel: 172,
  walLogHints: 176,
  maxConnections: 180,
  maxWorkerProcesses: 184,
  maxWalSenders: 188,
  maxPreparedXacts: 192,
  maxLocksPerXact: 196,
  trackCommitTimestamp: 200,
  maxAlign: 204,
  floatFormat: 208,
  blcksz: 216,
  relsegSize: 220,
  xlogBlcksz: 224,
  xlogSegSize: 228,
  nameDataLen: 232,
  indexMaxKeys: 236,
  toastMaxChunkSize: 240,
  loblksize: 244,
  float8ByVal: 248,
  dataChecksumVersion: 252,
  mockAuthNonce: 256,
  crc: 288,
} as const;

/** Offsets inside CheckPoint (checkPointCopy). */
const CP = {
  redo: 0,
  thisTimeLineId: 8,
  prevTimeLineId: 12,
  fullPageWrites: 16,
  nextXid: 24,
  nextOid: 32,
  nextMulti: 36,
  nextMultiOffset: 40,
  oldestXid: 44,
  oldestXidDb: 48,
  oldestMulti: 52,
  oldestMultiDb: 56,
  time: 64,
  oldestCommitTsXid: 72,
  newestCommitTsXid: 76,
  oldestActiveXid: 80,
} as const;

/** DBState names as pg_controldata prints them. */
export const DB_STATE_NAMES = [
  'starting up',
  'shut down',
  'shut down in recovery',
  'shutting down',
  'in crash recovery',
  'in archive recovery',
  'in production',
] as const;

export interface PgControl {
  /** uint64 as decimal text. */
  systemIdentifier: string;
  pgControlVersion: number;
  catalogVersion: number;
  /** DBState enum value (see DB_STATE_NAMES). */
  state: number;
  /** Unix seconds of the last pg_control update. */
  time: number;
  checkPointLsn: Lsn;
  redoLsn: Lsn;
  /** Checkpoint's ThisTimeLineID. */
  timeline: number;
  prevTimeline: number;
  fullPageWrites: boolean;
  /** Checkpoint's nextXid (FullTransactionId: epoch in high 32 bits). */
  nextXidEpoch: number;
  nextXid: number;
  nextOid: number;
  oldestXid: number;
  oldestActiveXid: number;
  /** Unix seconds of the checkpoint. */
  checkPointTime: number;
  unloggedLsn: Lsn;
  minRecoveryPoint: Lsn;
  minRecoveryPointTli: number;
  backupStartPoint: Lsn;
  backupEndPoint: Lsn;
  backupEndRequired: boolean;
  walLevel: number;
  walLogHints: boolean;
  maxConnections: number;
  maxWorkerProcesses: number;
  maxWalSenders: number;
  maxPreparedXacts: number;
  maxLocksPerXact: number;
  trackCommitTimestamp: boolean;
  maxAlign: number;
  blcksz: number;
  relsegSize: number;
  xlogBlcksz: number;
  xlogSegSize: number;
  nameDataLen: number;
  indexMaxKeys: number;
  toastMaxChunkSize: number;
  loblksize: number;
  float8ByVal: boolean;
  dataChecksumVersion: number;
  /** 32 bytes as lowercase hex. */
  mockAuthNonce: string;
  /** CRC-32C stored in the file (ControlFileData.crc). */
  crc: number;
}

function checkSize(buf: Buffer): void {
  if (buf.length < PG_CONTROL_CRC_OFFSET + 4) {
    throw new Error(`pg_control is too short: ${buf.length} bytes, expected at least ${PG_CONTROL_CRC_OFFSET + 4}`);
  }
}

/**
 * Decodes pg_control. Throws when the buffer is too short or pg_control_version is not 1300
 * (PostgreSQL 13–16 layout). Does not check the CRC: see verifyPgControlCrc.
 */
export function parsePgControl(buf: Buffer): PgControl {
  checkSize(buf);
  const O = PG_CONTROL_OFFSETS;
  const version = buf.readUInt32LE(O.pgControlVersion);
  if (version !== PG_CONTROL_VERSION) {
    throw new Error(
      `unsupported pg_control version ${version} (expected ${PG_CONTROL_VERSION}, PostgreSQL 15); ` +
        'the file may be from another PostgreSQL major version or corrupt',
    );
  }
  const u32 = (o: number) => buf.readUInt32LE(o);
  const i32 = (o: number) => buf.readInt32LE(o);
  const u64 = (o: number) => buf.readBigUInt64LE(o);
  const lsn = (o: number) => lsnFromBigInt(u64(o));
  const bool = (o: number) => buf[o] !== 0;
  const cp = O.checkPointCopy;
  const nextXid = u64(cp + CP.nextXid);
  return {
    systemIdentifier: u64(O.systemIdentifier).toString(),
    pgControlVersion: version,
    catalogVersion: u32(O.catalogVersion),
    state: u32(O.state),
    time: Number(buf.readBigInt64LE(O.time)),
    checkPointLsn: lsn(O.checkPoint),
    redoLsn: lsn(cp + CP.redo),
    timeline: u32(cp + CP.thisTimeLineId),
    prevTimeline: u32(cp + CP.prevTimeLineId),
    fullPageWrites: bool(cp + CP.fullPageWrites),
    nextXidEpoch: Number(nextXid >> 32n),
    nextXid: Number(nextXid & 0xffffffffn),
    nextOid: u32(cp + CP.nextOid),
    oldestXid: u32(cp + CP.oldestXid),
    oldestActiveXid: u32(cp + CP.oldestActiveXid),
    checkPointTime: Number(buf.readBigInt64LE(cp + CP.time)),
    unloggedLsn: lsn(O.unloggedLsn),
    minRecoveryPoint: lsn(O.minRecoveryPoint),
    minRecoveryPointTli: u32(O.minRecoveryPointTli),
    backupStartPoint: lsn(O.backupStartPoint),
    backupEndPoint: lsn(O.backupEndPoint),
    backupEndRequired: bool(O.backupEndRequired),
    walLevel: i32(O.walLevel),
    walLogHints: bool(O.walLogHints),
    maxConnections: i32(O.maxConnections),
    maxWorkerProcesses: i32(O.maxWorkerProcesses),
    maxWalSenders: i32(O.maxWalSenders),
    maxPreparedXacts: i32(O.maxPreparedXacts),
    maxLocksPerXact: i32(O.maxLocksPerXact),
    trackCommitTimestamp: bool(O.trackCommitTimestamp),
    maxAlign: u32(O.maxAlign),
    blcksz: u32(O.blcksz),
    relsegSize: u32(O.relsegSize),
    xlogBlcksz: u32(O.xlogBlcksz),
    xlogSegSize: u32(O.xlogSegSize),
    nameDataLen: u32(O.nameDataLen),
    indexMaxKeys: u32(O.indexMaxKeys),
    toastMaxChunkSize: u32(O.toastMaxChunkSize),
    loblksize: u32(O.loblksize),
    float8ByVal: bool(O.float8ByVal),
    dataChecksumVersion: u32(O.dataChecksumVersion),
    mockAuthNonce: buf.subarray(O.mockAuthNonce, O.mockAuthNonce + 32).toString('hex'),
    crc: u32(O.crc),
  };
}

/** CRC-32C of the bytes before the crc field. */
export function computePgControlCrc(buf: Buffer): number {
  checkSize(buf);
  return crc32c(buf.subarray(0, PG_CONTROL_CRC_OFFSET));
}

/** True when the stored ControlFileData.crc matches the content. */
export function verifyPgControlCrc(buf: Buffer): boolean {
  checkSize(buf);
  return computePgControlCrc(buf) === buf.readUInt32LE(PG_CONTROL_CRC_OFFSET);
}
