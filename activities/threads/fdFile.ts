/**
 * A file as a bare descriptor, for the file threads. The FileHandle API costs tens of microseconds of
 * promises and bookkeeping per call: for a catalog of a thousand small files that was most of a
 * backup's copy of them (about 2 ms of CPU per file). A small file's reads and writes are plain
 * system calls here, which block this thread for microseconds; a large file's go through libuv, so
 * that the next chunk is read while this one is checked. fsync always goes through libuv: it waits
 * for the disk, and the thread's other jobs go on meanwhile.
 *
 * A large file a restore writes whole pages to may be written uncached (O_DIRECT): the pages go from
 * the job's buffer to the disk, not copied into the page cache first. Measured on a scale-100 restore,
 * that copy (with the page allocation behind it) was the largest single cost of the whole restore,
 * more than inflating every page of a zlib backup, and two threads writing one file through the
 * cache also spun on its inode lock. The restored files are read by PostgreSQL later, not by us.
 */
import * as fs from 'node:fs';

/** Files up to this size are read and written with blocking system calls (one chunk: see chunkBytes). */
export const SMALL_FILE_MAX = 1 << 20;

/**
 * What an uncached write asks of its buffer, offset and length: a multiple of the device's logical
 * block, 512 B or 4 KiB. Pages (8 KiB) at page boundaries from a page-aligned buffer always are.
 */
export const UNCACHED_ALIGN = 4096;

/**
 * GS_PROBACKUP_UNCACHED_WRITES=0 (in the worker's environment) writes every file through the page
 * cache: for a filesystem that takes O_DIRECT but does it badly, and to measure the difference.
 */
function uncachedWritesAllowed(env: Record<string, string | undefined>): boolean {
  return env.GS_PROBACKUP_UNCACHED_WRITES !== '0';
}

function viaLibuv<T>(start: (cb: (err: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, v) => (err ? reject(err) : resolve(v))));
}

/** Runs a system call now, as a promise: a failure rejects rather than throws at the call site. */
function now<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (e) {
    return Promise.reject(e);
  }
}

export class FdFile {
  private closed = false;

  private constructor(
    private fd: number,
    /** Reads and writes are blocking system calls. */
    private readonly blocking: boolean,
    /** Opened with O_DIRECT: writes must be aligned (UNCACHED_ALIGN). */
    private uncachedPath: string | null = null,
  ) {}

  /** Writes bypass the page cache: their buffers, offsets and lengths must be UNCACHED_ALIGN multiples. */
  get uncached(): boolean {
    return this.uncachedPath !== null;
  }

  /** Opens for reading; a file of at most SMALL_FILE_MAX bytes is then read with blocking calls. */
  static openRead(path: string): { file: FdFile; size: number } {
    const fd = fs.openSync(path, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      return { file: new FdFile(fd, size <= SMALL_FILE_MAX), size };
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Creates or truncates for writing; `small`: what is written is at most SMALL_FILE_MAX or so. */
  static openWrite(path: string, small: boolean, mode = 0o600): FdFile {
    return new FdFile(fs.openSync(path, 'w', mode), small);
  }

  /**
   * Creates or truncates a large file for aligned writes of whole pages, uncached where the
   * filesystem allows it (O_DIRECT); cached where it does not (tmpfs before Linux 6.6 refuses it).
   */
  static openWriteUncached(path: string, mode = 0o600): FdFile {
    const { O_WRONLY, O_CREAT, O_TRUNC } = fs.constants;
    return FdFile.uncachedOrNot(path, O_WRONLY | O_CREAT | O_TRUNC, mode) ?? FdFile.openWrite(path, false, mode);
  }

  /** Opens a file that others write too (pieces of one file), without truncating it; see openWriteUncached. */
  static openExisting(path: string, uncached = false): FdFile {
    return (uncached ? FdFile.uncachedOrNot(path, fs.constants.O_RDWR) : null) ?? new FdFile(fs.openSync(path, 'r+'), false);
  }

  /** `path` opened with O_DIRECT, or null where that is refused (the caller opens it cached: any real error shows there). */
  private static uncachedOrNot(path: string, flags: number, mode?: number): FdFile | null {
    if (!fs.constants.O_DIRECT || !uncachedWritesAllowed(process.env)) return null;
    try {
      return new FdFile(fs.openSync(path, flags | fs.constants.O_DIRECT, mode), false, path);
    } catch {
      return null;
    }
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  read(buf: Buffer, off: number, len: number, pos: number | null): Promise<{ bytesRead: number }> {
    if (this.blocking) return now(() => ({ bytesRead: fs.readSync(this.fd, buf, off, len, pos) }));
    return viaLibuv<number>((cb) => fs.read(this.fd, buf, off, len, pos, cb)).then((bytesRead) => ({ bytesRead }));
  }

  /** Writes all of buf[off, off + len) at `pos` (null: the current position). */
  async write(buf: Buffer, off = 0, len = buf.length - off, pos: number | null = null): Promise<void> {
    while (len > 0) {
      let n: number;
      try {
        n = this.blocking
          ? fs.writeSync(this.fd, buf, off, len, pos)
          : await viaLibuv<number>((cb) => fs.write(this.fd, buf, off, len, pos, cb));
      } catch (e) {
        // EINVAL from an uncached write: something is not aligned as this device wants (a block
        // larger than UNCACHED_ALIGN, say). The file is written through the cache from here on.
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL' || !this.uncached) throw e;
        this.cached();
        continue;
      }
      off += n;
      len -= n;
      if (pos !== null) pos += n;
    }
  }

  /** Drops O_DIRECT: the same file through a cached descriptor. */
  private cached(): void {
    const fd = fs.openSync(this.uncachedPath!, 'r+');
    fs.closeSync(this.fd);
    this.fd = fd;
    this.uncachedPath = null;
  }

  truncate(len: number): Promise<void> {
    if (this.blocking) return now(() => fs.ftruncateSync(this.fd, len));
    return viaLibuv<void>((cb) => fs.ftruncate(this.fd, len, cb));
  }

  chmod(mode: number): Promise<void> {
    return now(() => fs.fchmodSync(this.fd, mode));
  }

  datasync(): Promise<void> {
    return viaLibuv<void>((cb) => fs.fdatasync(this.fd, cb));
  }

  sync(): Promise<void> {
    return viaLibuv<void>((cb) => fs.fsync(this.fd, cb));
  }

  /** Idempotent, so cleanup paths may call it again. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
