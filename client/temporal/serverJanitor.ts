/**
 * `node serverJanitor.js <backupPath> <lingerMs> <serverPid>`: started detached by the last user to
 * leave the embedded server (embeddedServer.ts); after `lingerMs` it stops the server unless someone
 * used it meanwhile. It loads nothing heavy until it wakes, so it costs nothing while it waits.
 */
export {};

process.title = 'gs_probackup-server-janitor';
const [backupPath, lingerArg, pidArg] = process.argv.slice(2);
const lingerMs = Number(lingerArg);
const serverPid = Number(pidArg);

if (!backupPath || !Number.isFinite(lingerMs) || !Number.isInteger(serverPid)) {
  process.stderr.write('usage: serverJanitor.js <backupPath> <lingerMs> <serverPid>\n');
  process.exit(2);
}

setTimeout(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { stopIdleEmbeddedServer } = require('./embeddedServer') as typeof import('./embeddedServer');
  stopIdleEmbeddedServer(backupPath, lingerMs, serverPid).then(
    () => process.exit(0),
    () => process.exit(1),
  );
}, lingerMs);
