import { formatBool, normalizeKey, parseBool, parseIntValue, parseKeyValue, quote } from '../../core/keyValue';

describe('keyValue', () => {
  it('parses pairs, comments, blank lines and quotes', () => {
    const text = [
      '#Configuration',
      'backup-mode = FULL',
      '',
      '  stream=true   # trailing comment',
      "note = 'it''s here # not a comment'",
      "primary_conninfo = 'user=postgres host=/tmp'",
      'Compress_Level = 1',
      "empty = ''",
      'bare = some value\t# c',
      '\r',
    ].join('\n');
    const kv = parseKeyValue(text);
    expect(kv.map((p) => [p.key, p.value])).toEqual([
      ['backup-mode', 'FULL'],
      ['stream', 'true'],
      ['note', "it's here # not a comment"],
      ['primary-conninfo', 'user=postgres host=/tmp'],
      ['compress-level', '1'],
      ['empty', ''],
      ['bare', 'some value'],
    ]);
    expect(kv[0].line).toBe(2);
    expect(kv[2].quoted).toBe(true);
    expect(kv[1].quoted).toBe(false);
  });

  it('handles CRLF', () => {
    expect(parseKeyValue("a = 1\r\nb = 'x'\r\n").map((p) => p.value)).toEqual(['1', 'x']);
  });

  it('reports syntax errors with source and line', () => {
    expect(() => parseKeyValue('a = 1\njunk\n', 'f.conf')).toThrow(/f\.conf line 2/);
    expect(() => parseKeyValue("a = 'open\n", 'f.conf')).toThrow(/unterminated/);
    expect(() => parseKeyValue("a = 'x' y\n", 'f.conf')).toThrow(/line 1/);
  });

  it('quote doubles single quotes and round-trips', () => {
    expect(quote("a'b")).toBe("'a''b'");
    const v = "O'Reilly ''x'' # y";
    expect(parseKeyValue(`k = ${quote(v)}`)[0].value).toBe(v);
  });

  it('normalizes keys', () => {
    expect(normalizeKey('Primary_Conninfo')).toBe('primary-conninfo');
    expect(normalizeKey('a b')).toBe('a-b');
  });

  it('parses booleans like PostgreSQL', () => {
    for (const t of ['true', 'TRUE', 't', 'tr', 'yes', 'y', 'on', 'ON', '1']) expect(parseBool(t)).toBe(true);
    for (const f of ['false', 'f', 'fa', 'no', 'n', 'off', 'of', '0']) expect(parseBool(f)).toBe(false);
    for (const bad of ['', 'o', 'truex', 'yess', '2', 'offf', 'maybe']) expect(parseBool(bad)).toBeNull();
    expect(formatBool(true)).toBe('true');
    expect(formatBool(false)).toBe('false');
  });

  it('parses integers like strtol base 0', () => {
    expect(parseIntValue('42')).toBe(42);
    expect(parseIntValue('-7')).toBe(-7);
    expect(parseIntValue('0x1F')).toBe(31);
    expect(parseIntValue('010')).toBe(8);
    expect(parseIntValue('0')).toBe(0);
    expect(parseIntValue('INFINITE', 100)).toBe(100);
    expect(parseIntValue('12a')).toBeNull();
    expect(parseIntValue('')).toBeNull();
    expect(parseIntValue('99999999999999999999')).toBeNull();
  });
});
