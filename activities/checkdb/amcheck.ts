/**
 * checkdb --amcheck (pg_probackup's do_amcheck): bt_index_check (or bt_index_parent_check with
 * --parent) of every persistent B-tree index in every database that has the amcheck extension,
 * -j connections at a time per database; indexes of shared catalogs once, in the first database.
 */
import type { Client } from 'pg';
import type { PgConnection } from '../../core/requests';
import { closePg, connectPg } from '../postgres/connection';

export interface AmcheckOptions {
  connection: PgConnection;
  threads: number;
  heapallindexed: boolean;
  parent: boolean;
  info(msg: string): void;
  warning(msg: string): void;
  log(msg: string): void;
}

/** Identifiers for SQL text: the schema amcheck lives in. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Whether every index checked was valid, and whether a database was left out (no amcheck). */
export async function amcheckCluster(o: AmcheckOptions): Promise<{ ok: boolean; skipped: boolean }> {
  o.info('Start amchecking PostgreSQL instance');
  const first = await connectPg(o.connection);
  let dbs: string[];
  try {
    dbs = (await first.query<{ datname: string }>("SELECT datname FROM pg_catalog.pg_database WHERE datname NOT IN ('template0'::name, 'template1'::name) AND datallowconn ORDER BY oid")).rows.map((r) => r.datname);
  } finally {
    await closePg(first);
  }
  let ok = true;
  let skipped = false;
  let globalsChecked = false;
  for (const db of dbs) {
    const conn = { ...o.connection, pgdatabase: db };
    const c = await connectPg(conn);
    let indexes: { oid: string; name: string; nsp: string }[];
    let schema: string;
    try {
      const ext = (await c.query<{ extname: string; nspname: string; extversion: string }>(
        "SELECT extname, nspname, extversion FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_extension e ON n.oid = e.extnamespace WHERE e.extname IN ('amcheck'::name, 'amcheck_next'::name) ORDER BY extversion DESC LIMIT 1",
      )).rows[0];
      if (!ext) {
        o.warning(`Extension 'amcheck' or 'amcheck_next' are not installed in database ${db}`);
        skipped = true;
        continue;
      }
      schema = ext.nspname;
      o.info(`Amchecking database '${db}' using extension '${ext.extname}' version ${ext.extversion} from schema '${ext.nspname}'`);
      // Shared catalogs' indexes (tablespace pg_global) are the same in every database: once.
      indexes = (await c.query<{ oid: string; name: string; nsp: string }>(
        `SELECT cls.oid::text AS oid, cls.relname AS name, nmspc.nspname AS nsp
           FROM pg_catalog.pg_index idx
           JOIN pg_catalog.pg_class cls ON idx.indexrelid = cls.oid
           JOIN pg_catalog.pg_namespace nmspc ON cls.relnamespace = nmspc.oid
           JOIN pg_catalog.pg_am am ON cls.relam = am.oid
          WHERE am.amname = 'btree' AND cls.relpersistence != 't' AND cls.relkind != 'I'
            ${globalsChecked ? 'AND cls.reltablespace != 1664' : ''}
          ORDER BY nmspc.nspname DESC`,
      )).rows;
      globalsChecked = true;
    } finally {
      await closePg(c);
    }
    const fn = o.parent ? 'bt_index_parent_check' : 'bt_index_check';
    let dbOk = true;
    let next = 0;
    const lane = async (thread: number) => {
      const lc: Client = await connectPg(conn);
      try {
        for (let i = next++; i < indexes.length; i = next++) {
          const ix = indexes[i];
          try {
            await lc.query(`SELECT ${ident(schema)}.${fn}($1::oid::regclass, $2)`, [ix.oid, o.heapallindexed]);
            o.log(`Thread [${thread}]. Amcheck succeeded in database '${db}' for index: '${ix.nsp}.${ix.name}'`);
          } catch (e) {
            dbOk = false;
            o.warning(`Thread [${thread}]. Amcheck failed in database '${db}' for index: '${ix.nsp}.${ix.name}': ${(e as Error).message}`);
          }
        }
      } finally {
        await closePg(lc);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.threads, indexes.length)) }, (_, k) => lane(k + 1)));
    if (dbOk) o.info(`Amcheck succeeded for database '${db}'`);
    else o.warning(`Amcheck failed for database '${db}'`);
    ok &&= dbOk;
  }
  return { ok, skipped };
}
