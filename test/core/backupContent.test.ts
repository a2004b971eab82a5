import {
  backupContentCrc,
  parseBackupContent,
  serializeBackupContent,
  serializeFileEntry,
  type FileEntry,
} from '../../core/backupContent';
import { crc32c } from '../../core/crc32c';

const LINES = [
  '{"path":"base/1/1259", "size":"155648", "mode":"33152", "is_datafile":"1", "is_cfs":"0", "crc":"3221225472", "compress_alg":"zlib", "external_dir_num":"0", "dbOid":"1","full_size":"114688","segno":"0","n_blocks":"14","n_headers":"14","hdr_crc":"123456789","hdr_off":"0","hdr_size":"97"}\n',
  '{"path":"base", "size":"0", "mode":"16832", "is_datafile":"0", "is_cfs":"0", "crc":"0", "compress_alg":"none", "external_dir_num":"0", "dbOid":"0"}\n',
  '{"path":"global/pg_control", "size":"8192", "mode":"33152", "is_datafile":"0", "is_cfs":"0", "crc":"2783840513", "compress_alg":"none", "external_dir_num":"0", "dbOid":"0"}\n',
  '{"path":"base/5/16384.1", "size":"-1", "mode":"33152", "is_datafile":"1", "is_cfs":"0", "crc":"77", "compress_alg":"none", "external_dir_num":"0", "dbOid":"5","full_size":"8192","segno":"1","n_blocks":"3"}\n',
  '{"path":"conf.d/x.conf", "size":"12", "mode":"33188", "is_datafile":"0", "is_cfs":"0", "crc":"5", "compress_alg":"none", "external_dir_num":"2", "dbOid":"0","linked":"/etc/x"}\n',
];
const TEXT = LINES.join('');

describe('backup_content.control', () => {
  it('parses the sample lines', () => {
    const e = parseBackupContent(TEXT, 'content');
    expect(e).toHaveLength(5);
    expect(e[0]).toEqual<FileEntry>({
      path: 'base/1/1259',
      size: 155648,
      mode: 33152,
      isDatafile: true,
      isCfs: false,
      crc: 3221225472,
      compressAlg: 'zlib',
      externalDirNum: 0,
      dbOid: 1,
      fullSize: 114688,
      segno: 0,
      nBlocks: 14,
      nHeaders: 14,
      hdrCrc: 123456789,
      hdrOff: 0,
      hdrSize: 97,
    });
    expect(e[1]).toEqual<FileEntry>({
      path: 'base',
      size: 0,
      mode: 16832,
      isDatafile: false,
      isCfs: false,
      crc: 0,
      compressAlg: 'none',
      externalDirNum: 0,
      dbOid: 0,
      fullSize: 0,
    });
    expect(e[2].fullSize).toBe(8192);
    expect(e[3].size).toBe(-1);
    expect(e[3].segno).toBe(1);
    expect(e[4].linked).toBe('/etc/x');
    expect(e[4].externalDirNum).toBe(2);
  });

  it('serializes byte-exactly', () => {
    const e = parseBackupContent(TEXT, 'content');
    expect(e.map(serializeFileEntry)).toEqual(LINES);
    expect(serializeBackupContent(e)).toBe(TEXT);
  });

  it('omits optional fields by the spec rules', () => {
    const base: FileEntry = {
      path: 'PG_VERSION',
      size: 3,
      mode: 0o100600,
      isDatafile: false,
      isCfs: false,
      crc: 1,
      compressAlg: 'none',
      externalDirNum: 0,
      dbOid: 0,
    };
    const plain =
      '{"path":"PG_VERSION", "size":"3", "mode":"33152", "is_datafile":"0", "is_cfs":"0", "crc":"1", "compress_alg":"none", "external_dir_num":"0", "dbOid":"0"}\n';
    expect(serializeFileEntry(base)).toBe(plain);
    expect(serializeFileEntry({ ...base, fullSize: 3, nBlocks: -1, nHeaders: 0 })).toBe(plain);
    expect(serializeFileEntry({ ...base, fullSize: 0 })).toBe(plain);
    expect(serializeFileEntry({ ...base, isDatafile: true })).toContain('"dbOid":"0","segno":"0"}');
  });

  it('is tolerant to spacing, field order and unknown fields', () => {
    const t = '\n{ "crc" : "9","path":"a/b","mode":"33152","size":"10","is_datafile":"0","future":"x"}\r\n\n';
    const e = parseBackupContent(t, 'c');
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ path: 'a/b', size: 10, crc: 9, compressAlg: 'none', externalDirNum: 0, dbOid: 0, fullSize: 10 });
  });

  it('maps too-big numbers to -1', () => {
    const t = '{"path":"a", "size":"99999999999999999999", "mode":"1", "is_datafile":"0", "crc":"0"}\n';
    expect(parseBackupContent(t, 'c')[0].size).toBe(-1);
  });

  it('errors on missing mandatory fields with source and line', () => {
    for (const f of ['path', 'size', 'mode', 'is_datafile', 'crc']) {
      const fields: Record<string, string> = { path: 'p', size: '1', mode: '1', is_datafile: '0', crc: '0' };
      delete fields[f];
      const line = '{' + Object.entries(fields).map(([k, v]) => `"${k}":"${v}"`).join(', ') + '}\n';
      expect(() => parseBackupContent(LINES[1] + line, '/b/backup_content.control')).toThrow(
        new RegExp(`"${f}".*/b/backup_content\\.control line 2`),
      );
    }
    expect(() => parseBackupContent('{"path":"p", "size":"x", "mode":"1", "is_datafile":"0", "crc":"0"}', 'src')).toThrow(/src line 1/);
  });

  it('content crc is the CRC-32C of the exact bytes, line by line', () => {
    let run = crc32c(new Uint8Array(0));
    for (const l of LINES) run = crc32c(Buffer.from(l), run);
    expect(backupContentCrc(TEXT)).toBe(run);
    expect(backupContentCrc(TEXT)).toBe(crc32c(Buffer.from(TEXT)));
  });
});
