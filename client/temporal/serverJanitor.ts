/**
 * `node serverJanitor.js <backupPath> <lingerMs> <serverPid>`: started detached by the last user to
 * leave the embedded server (embeddedServer.ts) when no janitor waits already; it stops the server
 * once nobody has used it for `lingerMs`, sleeping again each time a command came and left
 * meanwhile. It loads nothing heavy until it first wakes.
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

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = () => require('./embeddedServer') as typeof import('./embeddedServer');

function wake(): void {
  load()
    .stopIdleEmbeddedServer(backupPath, lingerMs, serverPid)
    .then(
      (v) => ('sleepMs' in v ? setTimeout(wake, v.sleepMs) : process.exit(0)),
      () => process.exit(1),
    );
}

setTimeout(wake, lingerMs);
