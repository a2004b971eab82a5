/**
 * Log sequence numbers. On disk and in workflow payloads an LSN is its text form ("0/4C000028",
 * PostgreSQL's `%X/%X`), because Temporal's JSON payloads cannot carry bigint; arithmetic goes
 * through bigint.
 */
export type Lsn = string & { readonly __brand: 'Lsn' };

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export const INVALID_LSN = '0/0' as Lsn;

export function isLsnText(text: string): boolean {
  return LSN_RE.test(text);
}

/** Parses "X/X" (case-insensitive); throws with the offending text otherwise. */
export function parseLsn(text: string): Lsn {
  const m = LSN_RE.exec(text.trim());
  if (!m) throw new Error(`invalid LSN "${text}": expected two hexadecimal numbers separated by "/", e.g. 0/4C000028`);
  return lsnFromBigInt((BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]));
}

export function lsnToBigInt(lsn: Lsn): bigint {
  const m = LSN_RE.exec(lsn);
  if (!m) throw new Error(`invalid LSN "${lsn}"`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

export function lsnFromBigInt(v: bigint): Lsn {
  if (v < 0n || v > 0xffffffffffffffffn) throw new Error(`LSN out of range: ${v}`);
  const hi = Number(v >> 32n);
  const lo = Number(v & 0xffffffffn);
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}` as Lsn;
}

export function compareLsn(a: Lsn, b: Lsn): number {
  const x = lsnToBigInt(a);
  const y = lsnToBigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return compareLsn(a, b) >= 0 ? a : b;
}

/** WAL segment number containing `lsn` for a segment size in bytes. */
export function lsnToSegNo(lsn: Lsn, segSize: number): bigint {
  return lsnToBigInt(lsn) / BigInt(segSize);
}

/** PostgreSQL's XLogFileName: TTTTTTTTXXXXXXXXYYYYYYYY. */
export function walFileName(tli: number, segNo: bigint, segSize: number): string {
  const perId = 0x100000000n / BigInt(segSize);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return hex(tli) + hex(segNo / perId) + hex(segNo % perId);
}

/** Inverse of walFileName: returns [tli, segNo]. */
export function parseWalFileName(name: string, segSize: number): { tli: number; segNo: bigint } {
  if (!/^[0-9A-F]{24}$/.test(name)) throw new Error(`not a WAL segment file name: ${name}`);
  const perId = 0x100000000n / BigInt(segSize);
  const tli = parseInt(name.slice(0, 8), 16);
  const log = BigInt('0x' + name.slice(8, 16));
  const seg = BigInt('0x' + name.slice(16, 24));
  return { tli, segNo: log * perId + seg };
}
