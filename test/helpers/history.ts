/**
 * Scale of workflow history (issue 4): what the e2e test (test/e2e/historyScale.test.ts) and the
 * full-size script (test/scale/manyRelations.ts) share: making many relations fast, counting the
 * relation files on disk, and reading every run of the catalog's workflows from its embedded
 * Temporal server (event count, history bytes, largest event).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, type WorkflowExecutionInfo } from '@temporalio/client';
import { acquireEmbeddedServer } from '../../client/temporal/embeddedServer';
import type { PgCluster } from './pgCluster';

/**
 * Tables t<from>..t<to>, each `(id int PRIMARY KEY)` with one row: two relation files (heap and
 * index) of one page each. One plpgsql procedure that commits every 1000 tables: about 800 tables
 * a second on 2 cores with autovacuum off. Ends with a CHECKPOINT.
 */
export async function createTables(cluster: PgCluster, from: number, to: number): Promise<void> {
  await cluster.psql(`CREATE OR REPLACE PROCEDURE gs_make_tables(a int, b int) LANGUAGE plpgsql AS $$
    BEGIN
      FOR i IN a..b LOOP
        EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY)', i);
        EXECUTE format('INSERT INTO t%s VALUES (1)', i);
        IF i % 1000 = 0 THEN COMMIT; END IF;
      END LOOP;
    END $$;
    CALL gs_make_tables(${from}, ${to}); CHECKPOINT;`);
}

/** A relation file's name: <relfilenode>[_fsm|_vm|_init][.<segno>] (an independent rule, not core/). */
const RELATION_FILE = /^\d+(_(fsm|vm|init))?(\.\d+)?$/;

/** Whether a PGDATA-relative path is a relation file of base/<db>/ or global/. */
export function isRelationPath(rel: string): boolean {
  const parts = rel.split('/');
  const name = parts[parts.length - 1];
  if (!RELATION_FILE.test(name)) return false;
  return (parts.length === 3 && parts[0] === 'base' && /^\d+$/.test(parts[1])) || (parts.length === 2 && parts[0] === 'global');
}

/** The relation files of base/<db>/ and global/ on disk, as PGDATA-relative paths. */
export function relationFilesOnDisk(pgdata: string): string[] {
  const out: string[] = [];
  const dirs = ['global', ...fs.readdirSync(path.join(pgdata, 'base')).filter((d) => /^\d+$/.test(d)).map((d) => `base/${d}`)];
  for (const dir of dirs) {
    for (const name of fs.readdirSync(path.join(pgdata, dir))) {
      const rel = `${dir}/${name}`;
      if (isRelationPath(rel) && fs.statSync(path.join(pgdata, rel)).isFile()) out.push(rel);
    }
  }
  return out.sort();
}

export interface RunHistory {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  events: number;
  /** History size in bytes as the server counts it (HistorySizeBytes). */
  historyBytes: number;
  /** The largest event as JSON with byte fields in base64: an upper bound on its encoded size. */
  largestEventBytes: number;
  largestEventType: string;
  /** Activities scheduled, by activity type. */
  activities: Record<string, number>;
}

export interface HistoryReader {
  client: Client;
  /** Every run of every workflow in the namespace (closed runs first appear a moment after they close). */
  listRuns(query?: string): Promise<WorkflowExecutionInfo[]>;
  readRun(info: WorkflowExecutionInfo): Promise<RunHistory>;
  /** Releases the lease: the embedded server stops when no other user remains. */
  close(): Promise<void>;
}

/**
 * Joins (or starts) the embedded Temporal server of a catalog, as a CLI does, and keeps it up
 * until close(): CLI commands run meanwhile reuse it.
 */
export async function openHistoryReader(backupPath: string): Promise<HistoryReader> {
  const lease = await acquireEmbeddedServer({ backupPath, role: 'cli' });
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: lease.address });
  } catch (e) {
    await lease.release();
    throw e;
  }
  const client = new Client({ connection, namespace: lease.namespace });
  return {
    client,
    async listRuns(query?: string) {
      const out: WorkflowExecutionInfo[] = [];
      for await (const wf of client.workflow.list(query ? { query } : {})) out.push(wf);
      return out;
    },
    async readRun(info: WorkflowExecutionInfo) {
      const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
      const events = history.events ?? [];
      let largestEventBytes = 0;
      let largestEventType = '';
      const activities: Record<string, number> = {};
      for (const ev of events) {
        const size = Buffer.byteLength(JSON.stringify(ev, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)));
        if (size > largestEventBytes) {
          largestEventBytes = size;
          largestEventType = eventTypeName(ev as Record<string, unknown>);
        }
        const scheduled = ev.activityTaskScheduledEventAttributes?.activityType?.name;
        if (scheduled) activities[scheduled] = (activities[scheduled] ?? 0) + 1;
      }
      return {
        workflowId: info.workflowId,
        runId: info.runId,
        type: info.type,
        status: info.status.name,
        events: events.length,
        historyBytes: info.historySize ?? 0,
        largestEventBytes,
        largestEventType,
        activities,
      };
    },
    async close() {
      try {
        await connection.close();
      } finally {
        await lease.release();
      }
    },
  };
}

/** The event's kind from the attributes it carries: activityTaskScheduledEventAttributes → ActivityTaskScheduled. */
function eventTypeName(ev: Record<string, unknown>): string {
  const key = Object.keys(ev).find((k) => k.endsWith('EventAttributes') && ev[k] != null);
  return key ? key[0].toUpperCase() + key.slice(1, -'EventAttributes'.length) : String(ev.eventType);
}

export function describeRun(r: RunHistory): string {
  return (
    `workflow ${r.workflowId} (${r.type}) run ${r.runId} ${r.status}: ${r.events} history events, ${r.historyBytes} bytes of history, ` +
    `largest event ${r.largestEventBytes} bytes (${r.largestEventType}); activities ${JSON.stringify(r.activities)}`
  );
}
