/**
 * afterNextThreadStart in a real Node process (jest gives tests a process object of its own, which
 * Node's 'worker' event never reaches): the work runs once, after the thread was created and
 * before it answers; a cancelled one never runs; one that throws does not end the process.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/cli';

const moduleFile = path.join(REPO_ROOT, 'dist', 'client', 'temporal', 'afterThreadStart.js');

test('runs once after the next thread is created, not before; cancelled, it never runs; a throw is contained', () => {
  const script = `
    const { Worker } = require('node:worker_threads');
    const { afterNextThreadStart } = require(${JSON.stringify(moduleFile)});
    const events = [];
    afterNextThreadStart(() => events.push('work'));
    afterNextThreadStart(() => { throw new Error('a failed preload must not end the process'); });
    afterNextThreadStart(() => events.push('cancelled work'))();
    const w = new Worker('require("node:worker_threads").parentPort.postMessage("hello")', { eval: true });
    events.push('thread created');
    w.once('message', (m) => events.push(m));
    w.on('exit', () => {
      new Worker('0', { eval: true }).on('exit', () => {
        console.log(JSON.stringify({ events, listeners: process.listenerCount('worker') }));
      });
    });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  expect(JSON.parse(r.stdout)).toEqual({ events: ['thread created', 'work', 'hello'], listeners: 0 });
});
