/**
 * V8 code cache for the CommonJS modules a command loads. Compiling them (ours, the Temporal SDK,
 * protobufjs, pg) costs a third of a second on every command, in the main thread and again in each
 * file thread; V8 can instead deserialize the code it compiled the last time. Node 22 has this
 * built in (module.enableCompileCache); Node 20 does not, so Module.prototype._compile is wrapped
 * here, as the v8-compile-cache package does.
 *
 * One cache file per module and source version (path, size, mtime), written once, after the
 * module's functions ran (so the cache holds them too), by an atomic rename. The directory must be
 * ours and closed to others: a cache is code this process runs. The launcher sets
 * GS_PROBACKUP_COMPILE_CACHE=1 unless it is set (0 turns the cache off); a module whose cache V8
 * rejects is compiled as usual.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { threadId } from 'node:worker_threads';

interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
  _compile(content: string, filename: string): unknown;
}

type ModuleStatics = {
  wrap(content: string): string;
  _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: unknown): string;
  _resolveLookupPaths(request: string, parent: unknown): string[] | null;
  _extensions: unknown;
  _cache: unknown;
};

/** Where the cache lives for this Node version, or null when no safe place exists. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  // On where the launcher (bin/gs_probackup) turned it on: not in a test runner that loads main.ts.
  if (env.GS_PROBACKUP_COMPILE_CACHE !== '1') return null;
  const base = env.XDG_CACHE_HOME || (env.HOME ? path.join(env.HOME, '.cache') : os.tmpdir());
  const dir = path.join(base, 'gs_probackup', `v8-${process.version}-${process.arch}`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return safeFromOthers(dir) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Code read from a directory another user could change would run as us: the cache directory and
 * every directory above it must be ours or root's, and writable by no one else (but for a
 * root-owned sticky directory such as /tmp, where others cannot rename what is ours).
 */
function safeFromOthers(dir: string): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return false;
  const cacheDir = fs.statSync(dir);
  if (cacheDir.uid !== uid || (cacheDir.mode & 0o077) !== 0) return false;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    if (st.uid !== uid && st.uid !== 0) return false;
    if ((st.mode & 0o022) !== 0 && !(st.uid === 0 && (st.mode & 0o1000) !== 0)) return false;
    if (d === path.dirname(d)) return true;
  }
}

let installed = false;

export function installCompileCache(dir: string | null = compileCacheDir()): void {
  if (installed || !dir) return;
  installed = true;
  const M = Module as unknown as ModuleStatics;
  const proto = (Module as unknown as { prototype: CjsModule }).prototype;
  const original = proto._compile;
  const pending: { file: string; script: vm.Script }[] = [];

  // V8 rejects a cache made under other flags: processes started with other flags keep their own.
  const flags = process.execArgv.join(' ');
  proto._compile = function (this: CjsModule, content: string, filename: string) {
    // A real import() needs a loader callback vm.Script cannot be given on Node 20.
    if (!filename.endsWith('.js') || content.includes('import(')) return original.call(this, content, filename);
    let file: string;
    try {
      const st = fs.statSync(filename);
      file = path.join(dir, createHash('sha1').update(`${filename}\0${st.size}\0${st.mtimeMs}\0${flags}`).digest('hex'));
    } catch {
      return original.call(this, content, filename);
    }
    let cached: Buffer | undefined;
    try {
      cached = fs.readFileSync(file);
    } catch {
      /* not cached yet */
    }
    const script = new vm.Script(M.wrap(content), { filename, cachedData: cached });
    if (!cached || script.cachedDataRejected) pending.push({ file, script });
    const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    const mod = this;
    const req = Object.assign((id: string) => mod.require(id), {
      resolve: Object.assign((request: string, options?: unknown) => M._resolveFilename(request, mod, false, options), {
        paths: (request: string) => M._resolveLookupPaths(request, mod),
      }),
      // This module's own require.main was fixed before the main module was known (a preload).
      main: (process as { mainModule?: unknown }).mainModule,
      extensions: M._extensions,
      cache: M._cache,
    });
    return fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
  };

  // Written once the command has run a while (its functions compiled), and at exit at the latest.
  const save = () => {
    for (const { file, script } of pending.splice(0)) {
      // Threads of one process load the same modules: each writes its own temp file.
      const tmp = `${file}.${process.pid}-${threadId}.tmp`;
      try {
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(tmp, file);
      } catch {
        // A cache is an optimisation: never a failure.
        try {
          fs.rmSync(tmp, { force: true });
        } catch {
          /* nothing more to do */
        }
      }
    }
  };
  setTimeout(save, 3000).unref();
  process.once('exit', save);
}

// Preloaded by the launcher (node --require), so in every thread too: the file threads and the
// SDK's workflow thread inherit the preload.
installCompileCache();
