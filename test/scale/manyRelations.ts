/**
 * Not part of CI (issue 4, scale): a cluster with ~100,000 relation files (N tables with a primary
 * key and one row: heap + index each), backed up by the real CLI in embedded mode; prints how long
 * creating and backing up took, and the history of every workflow run the backup made: event count
 * and the largest event (an upper bound on any payload, file lists must not travel through history).
 * CI makes the same argument at a smaller size by scaling: test/e2e/historyScale.test.ts.
 *
 *   npm run build && runuser -u postgres -- env HOME=/tmp node dist/test/scale/manyRelations.js [tables=50000]
 *
 * Exits 1 if a run's history has 10,000 events or more, or an event over 100 KB.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliOk } from '../helpers/cli';
import { createTables, describeRun, openHistoryReader, relationFilesOnDisk } from '../helpers/history';
import { createCluster } from '../helpers/pgCluster';

const MAX_EVENTS = 10_000;
const MAX_EVENT_BYTES = 100 * 1024;

async function main(): Promise<number> {
  const tables = Number(process.argv[2] ?? 50_000);
  const t0 = Date.now();
  const cluster = await createCluster({ conf: { autovacuum: 'off' } });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'scale-'));
  const backupPath = path.join(root, 'catalog');
  const env = { ...cluster.env, BACKUP_PATH: backupPath };
  try {
    await createTables(cluster, 1, tables);
    const created = Date.now();
    const relations = Number(await cluster.psql(`SELECT count(*) FROM pg_class WHERE relkind IN ('r','i','t','S','m') AND relfilenode <> 0`));
    const onDisk = relationFilesOnDisk(cluster.pgdata).length;
    console.log(`created ${tables} tables: ${relations} relations, ${onDisk} relation files on disk in ${((created - t0) / 1000).toFixed(0)} s`);

    await cliOk(['init'], env);
    await cliOk(['add-instance', '--instance', 's', '-D', cluster.pgdata], env);
    const b0 = Date.now();
    const out = (await cliOk(['backup', '--instance', 's', '-b', 'FULL', '--stream', '-j', '2'], env)).stderr;
    const backedUp = Date.now();
    const id = /INFO: Backup (\w+) completed/.exec(out)![1];
    console.log(`backup ${id} of ${onDisk}+ files: ${((backedUp - b0) / 1000).toFixed(0)} s`);

    // Every run of every workflow of this catalog: the backup's, continue-as-new runs and children.
    const reader = await openHistoryReader(backupPath);
    try {
      let failed = false;
      for (const wf of await reader.listRuns()) {
        const r = await reader.readRun(wf);
        console.log(describeRun(r));
        if (r.events >= MAX_EVENTS || r.largestEventBytes >= MAX_EVENT_BYTES) failed = true;
      }
      console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      return failed ? 1 : 0;
    } finally {
      await reader.close();
    }
  } finally {
    await cluster.destroy();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
