/**
 * A file as a bare descriptor, for the file threads. The FileHandle API costs tens of microseconds of
 * promises and bookkeeping per call: for a catalog of a thousand small files that was most of a
 * backup's copy of them (about 2 ms of CPU per file). A small file's reads and writes are plain
 * system calls here, which block this thread for microseconds; a large file's go through libuv, so
 * that the next chunk is read while this one is checked. fsync always goes through libuv: it waits
 * for the disk, and the thread's other jobs go on meanwhile.
 */
import * as fs from 'node:fs';

/** Files up to this size are read and written with direct system calls (one chunk: see chunkBytes). */
export const DIRECT_IO_MAX = 1 << 20;

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
    readonly fd: number,
    /** Reads and writes are direct system calls. */
    private readonly direct: boolean,
  ) {}

  /** Opens for reading; a file of at most DIRECT_IO_MAX bytes is then read directly. */
  static openRead(path: string): { file: FdFile; size: number } {
    const fd = fs.openSync(path, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      return { file: new FdFile(fd, size <= DIRECT_IO_MAX), size };
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Creates or truncates for writing; `small`: what is written is at most DIRECT_IO_MAX or so. */
  static openWrite(path: string, small: boolean, mode = 0o600): FdFile {
    return new FdFile(fs.openSync(path, 'w', mode), small);
  }

  /** Opens a file that others write too (pieces of one file), without truncating it. */
  static openExisting(path: string): FdFile {
    return new FdFile(fs.openSync(path, 'r+'), false);
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  read(buf: Buffer, off: number, len: number, pos: number | null): Promise<{ bytesRead: number }> {
    if (this.direct) return now(() => ({ bytesRead: fs.readSync(this.fd, buf, off, len, pos) }));
    return viaLibuv<number>((cb) => fs.read(this.fd, buf, off, len, pos, cb)).then((bytesRead) => ({ bytesRead }));
  }

  /** Writes all of buf[off, off + len) at `pos` (null: the current position). */
  async write(buf: Buffer, off = 0, len = buf.length - off, pos: number | null = null): Promise<void> {
    while (len > 0) {
      const n = this.direct
        ? fs.writeSync(this.fd, buf, off, len, pos)
        : await viaLibuv<number>((cb) => fs.write(this.fd, buf, off, len, pos, cb));
      off += n;
      len -= n;
      if (pos !== null) pos += n;
    }
  }

  truncate(len: number): Promise<void> {
    if (this.direct) return now(() => fs.ftruncateSync(this.fd, len));
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
