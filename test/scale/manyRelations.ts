/**
 * Not part of CI (issue 4, scale): a cluster with ~100,000 relation files (N tables with a primary
 * key and one row: heap + index each), backed up by the real CLI in embedded mode; prints how long
 * creating and backing up took, and the backup workflow's history: event count and the largest
 * event (an upper bound on any payload, file lists must not travel through history).
 *
 *   npm run build && runuser -u postgres -- env HOME=/tmp node dist/test/scale/manyRelations.js [tables=50000]
 *
 * Exits 1 if a run's history has 10,000 events or more, or an event over 100 KB.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { acquireEmbeddedServer } from '../../client/temporal/embeddedServer';
import { cliOk } from '../helpers/cli';
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
  let release: (() => Promise<void>) | undefined;
  try {
    await cluster.psql(`CREATE PROCEDURE mk(n int) LANGUAGE plpgsql AS $$
      BEGIN
        FOR i IN 1..n LOOP
          EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY)', i);
          EXECUTE format('INSERT INTO t%s VALUES (1)', i);
          IF i % 1000 = 0 THEN COMMIT; END IF;
        END LOOP;
      END $$;
      CALL mk(${tables}); CHECKPOINT;`);
    const created = Date.now();
    const files = Number(await cluster.psql(`SELECT count(*) FROM pg_class WHERE relkind IN ('r','i','t','S','m') AND relfilenode <> 0`));
    const onDisk = (await fs.promises.readdir(path.join(cluster.pgdata, 'base', await cluster.psql(`SELECT oid FROM pg_database WHERE datname = 'postgres'`)))).length;
    console.log(`created ${tables} tables: ${files} relations, ${onDisk} files in base/<postgres> in ${((created - t0) / 1000).toFixed(0)} s`);

    await cliOk(['init'], env);
    await cliOk(['add-instance', '--instance', 's', '-D', cluster.pgdata], env);
    const b0 = Date.now();
    const out = (await cliOk(['backup', '--instance', 's', '-b', 'FULL', '--stream', '-j', '2'], env)).stderr;
    const backedUp = Date.now();
    const id = /INFO: Backup (\w+) completed/.exec(out)![1];
    console.log(`backup ${id} of ${onDisk}+ files: ${((backedUp - b0) / 1000).toFixed(0)} s`);

    // Keep the embedded server up to read the history.
    const lease = await acquireEmbeddedServer({ backupPath, role: 'cli' });
    release = () => lease.release();
    const connection = await Connection.connect({ address: lease.address });
    try {
      const client = new Client({ connection, namespace: lease.namespace });
      let failed = false;
      for await (const wf of client.workflow.list({ query: `WorkflowId = 'backup/s'` })) {
        const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        const events = history.events ?? [];
        let biggest = 0;
        let biggestType = '';
        for (const ev of events) {
          const size = JSON.stringify(ev, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)).length;
          if (size > biggest) {
            biggest = size;
            biggestType = String(ev.eventType);
          }
        }
        const bytes = wf.historySize ?? 0;
        console.log(`workflow ${wf.workflowId} run ${wf.runId}: ${events.length} history events, ${bytes} bytes of history, largest event ${biggest} bytes (type ${biggestType})`);
        if (events.length >= MAX_EVENTS || biggest >= MAX_EVENT_BYTES) failed = true;
      }
      console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      return failed ? 1 : 0;
    } finally {
      await connection.close();
    }
  } finally {
    await release?.();
    await cluster.destroy();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
