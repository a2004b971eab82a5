/**
 * The V8 code cache (client/compileCache.ts) in real Node processes (jest loads modules its own
 * way): the second run deserializes what the first compiled, modules behave the same, a cache
 * directory others may write (or one under such a directory) is not used, and nothing is cached
 * unless the launcher asks.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/cli';

const preload = path.join(REPO_ROOT, 'dist', 'client', 'compileCache.js');

/** A module that needs its require (relative, resolve, main), run under the preload, with V8's verdict on each cache. */
function runProbe(cacheHome: string, env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccache-probe-'));
  fs.writeFileSync(path.join(dir, 'dep.js'), 'exports.twice = (x) => 2 * x;\n');
  fs.writeFileSync(
    path.join(dir, 'main.js'),
    [
      "const vm = require('node:vm');",
      "const dep = require('./dep');",
      'console.log(JSON.stringify({',
      '  twice: dep.twice(21),',
      "  resolved: require.resolve('./dep') === __dirname + '/dep.js',",
      '  isMain: require.main === module,',
      '}));',
    ].join('\n'),
  );
  const r = spawnSync(process.execPath, ['--require', preload, path.join(dir, 'main.js')], {
    env: { PATH: process.env.PATH, XDG_CACHE_HOME: cacheHome, GS_PROBACKUP_COMPILE_CACHE: '1', ...env },
    encoding: 'utf8',
  });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim()) as { twice: number; resolved: boolean; isMain: boolean };
}

const cacheFiles = (home: string) => {
  const root = path.join(home, 'gs_probackup');
  return fs.existsSync(root) ? fs.readdirSync(root).flatMap((v) => fs.readdirSync(path.join(root, v))) : [];
};

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'ccache-'));
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

test('modules run the same through the cache, which V8 accepts on the next start', () => {
  const want = { twice: 42, resolved: true, isMain: true };
  expect(runProbe(home)).toEqual(want);
  // The probe's two modules were written at exit (each probe run is a new directory, so new files).
  expect(cacheFiles(home)).toHaveLength(2);
  // Same sources again: V8 takes the cached code (a rejected cache would be written once more).
  const stable = fs.mkdtempSync(path.join(os.tmpdir(), 'ccache-stable-'));
  fs.writeFileSync(path.join(stable, 'm.js'), "const vm = require('node:vm'); console.log(typeof vm.Script);\n");
  const run = () =>
    spawnSync(process.execPath, ['--require', path.join(stable, 'spy.js'), '--require', preload, path.join(stable, 'm.js')], {
      env: { PATH: process.env.PATH, XDG_CACHE_HOME: home, GS_PROBACKUP_COMPILE_CACHE: '1' },
      encoding: 'utf8',
    });
  // The spy (loaded before the preload, so that the preload's vm is the spied one) reports, at
  // exit, whether each cache the preload handed V8 was accepted.
  fs.writeFileSync(
    path.join(stable, 'spy.js'),
    [
      "const vm = require('node:vm'); const S = vm.Script; const seen = [];",
      'vm.Script = function (src, o) { const s = new S(src, o); if (o && o.cachedData) seen.push(!s.cachedDataRejected); return s; };',
      "process.on('exit', () => process.stderr.write('accepted=' + JSON.stringify(seen)));",
    ].join('\n'),
  );
  expect(run().stdout.trim()).toBe('function');
  const second = run();
  expect(second.stdout.trim()).toBe('function');
  expect(second.stderr).toBe('accepted=[true]');
  fs.rmSync(stable, { recursive: true, force: true });
});

test('a cache directory others may write is not used', () => {
  const dir = path.join(home, 'gs_probackup', `v8-${process.version}-${process.arch}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o777);
  expect(runProbe(home)).toEqual({ twice: 42, resolved: true, isMain: true });
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a cache directory under a directory others may write is not used either', () => {
  fs.chmodSync(home, 0o777);
  expect(runProbe(home)).toEqual({ twice: 42, resolved: true, isMain: true });
  expect(cacheFiles(home)).toEqual([]);
});

test('off unless GS_PROBACKUP_COMPILE_CACHE=1 (the launcher sets it; 0 turns it off)', () => {
  expect(runProbe(home, { GS_PROBACKUP_COMPILE_CACHE: '0' })).toEqual({ twice: 42, resolved: true, isMain: true });
  expect(cacheFiles(home)).toEqual([]);
});
