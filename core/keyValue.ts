/**
 * The `key = value` syntax shared by backup.control and pg_probackup.conf (spec §3 "Value formats"
 * and "Parsing rules", §6): `#` comments, blank lines, single-quoted strings with '' for a quote.
 */

export interface KeyValue {
  /** Normalized key: lowercase, '_' and ' ' turned into '-'. */
  key: string;
  /** Value with quotes removed ('' inside quotes read as one '). */
  value: string;
  /** 1-based line number in the text. */
  line: number;
  /** True when the value was written in quotes. */
  quoted: boolean;
}

/** pg_probackup's key comparison: case-insensitive, '-', '_' and ' ' equal. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[_ ]/g, '-');
}

const KEY_END = /[=#\s]/;
const UNQUOTED_END = /[#\n\r\t\v]/;

/**
 * Parses the text into its pairs in file order. Throws on a syntax error, naming `source` and the
 * line number.
 */
export function parseKeyValue(text: string, source = 'configuration'): KeyValue[] {
  const out: KeyValue[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n].replace(/\r$/, '');
    const fail = (why: string): never => {
      throw new Error(`syntax error in ${source} line ${n + 1}: ${why}: "${raw}"`);
    };
    let i = 0;
    const skipSpace = () => {
      while (i < raw.length && /\s/.test(raw[i])) i++;
    };
    skipSpace();
    if (i >= raw.length || raw[i] === '#') continue;
    const keyStart = i;
    while (i < raw.length && !KEY_END.test(raw[i])) i++;
    const key = raw.slice(keyStart, i);
    if (key === '') fail('missing key');
    skipSpace();
    if (raw[i] !== '=') fail('expected "=" after key');
    i++;
    skipSpace();
    let value = '';
    let quoted = false;
    if (raw[i] === "'") {
      quoted = true;
      i++;
      let closed = false;
      while (i < raw.length) {
        const ch = raw[i];
        if (ch === "'") {
          if (raw[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        value += ch;
        i++;
      }
      if (!closed) fail('unterminated quoted string');
      skipSpace();
      if (i < raw.length && raw[i] !== '#') fail('unexpected text after value');
    } else {
      const start = i;
      while (i < raw.length && !UNQUOTED_END.test(raw[i])) i++;
      value = raw.slice(start, i).trimEnd();
      if (i < raw.length && raw[i] !== '#') {
        skipSpace();
        if (i < raw.length && raw[i] !== '#') fail('unexpected text after value');
      }
    }
    out.push({ key: normalizeKey(key), value, line: n + 1, quoted });
  }
  return out;
}

/** Single-quotes a value, doubling quotes inside it. */
export function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** One `key = value` line with its newline. */
export function formatPair(key: string, value: string): string {
  return `${key} = ${value}\n`;
}

/**
 * PostgreSQL's parse_bool: true/false/yes/no/on/off/1/0 and unique prefixes, case-insensitive
 * (surrounding whitespace ignored). Returns null when the text is not a boolean.
 */
export function parseBool(text: string): boolean | null {
  const v = text.trim().toLowerCase();
  if (v === '') return null;
  const prefixOf = (word: string, minLen = 1) => v.length >= minLen && word.startsWith(v);
  if (prefixOf('true') || prefixOf('yes')) return true;
  if (prefixOf('false') || prefixOf('no')) return false;
  if (prefixOf('on', 2)) return true;
  if (prefixOf('off', 2)) return false;
  if (v === '1') return true;
  if (v === '0') return false;
  return null;
}

/** Boolean as written: `true` / `false`. */
export function formatBool(b: boolean): string {
  return b ? 'true' : 'false';
}

/**
 * Integer per strtol base 0 (decimal, 0x hex, leading-0 octal, optional sign) or `INFINITE`
 * (returns `max`). Returns null for anything else or a value outside the safe integer range.
 */
export function parseIntValue(text: string, max: number = Number.MAX_SAFE_INTEGER): number | null {
  const t = text.trim();
  if (t.toUpperCase() === 'INFINITE') return max;
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(t);
  if (!m) return null;
  const body = m[2];
  let big: bigint;
  if (/^0[xX]/.test(body)) big = BigInt(body);
  else if (body.length > 1 && body[0] === '0') big = BigInt('0o' + body.slice(1));
  else big = BigInt(body);
  if (m[1] === '-') big = -big;
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) return null;
  return Number(big);
}
