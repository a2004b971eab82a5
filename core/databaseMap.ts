/**
 * database_map (spec §1): the backup's databases by name and OID, one `{"dbOid":"<oid>",
 * "datname":"<name>"}` per line as pg_probackup writes it, without template0 and template1, which a
 * restore always restores. A partial restore (--db-include/--db-exclude) finds the OIDs whose files
 * it leaves empty here.
 */

export interface DatabaseMapEntry {
  dbOid: number;
  datname: string;
}

export function formatDatabaseMap(entries: DatabaseMapEntry[]): string {
  return entries.map((e) => `{"dbOid":"${e.dbOid}", "datname":${JSON.stringify(e.datname)}}\n`).join('');
}

export function parseDatabaseMap(text: string): DatabaseMapEntry[] {
  const out: DatabaseMapEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const o = JSON.parse(line) as { dbOid?: string; datname?: string };
    const dbOid = Number(o.dbOid);
    if (!Number.isInteger(dbOid) || dbOid <= 0 || typeof o.datname !== 'string') throw new Error(`not a database_map line: ${line}`);
    out.push({ dbOid, datname: o.datname });
  }
  return out;
}

/**
 * The OIDs of the databases a partial restore leaves out (pg_probackup's get_dbOid_exclude_list):
 * with `include`, every database of the map not named; with `exclude`, those named. A name the map
 * lacks is an error, and so is a choice that leaves nothing out.
 */
export function excludedDatabases(map: DatabaseMapEntry[], choice: { include?: string[]; exclude?: string[] }, backupId: string): number[] {
  const names = choice.include ?? choice.exclude ?? [];
  for (const n of names) {
    if (n === 'template0' || n === 'template1') throw new Error("Databases 'template0' and 'template1' cannot be used for partial restore or validation");
    if (!map.some((e) => e.datname === n)) throw new Error(`Failed to find a database '${n}' in database_map of backup ${backupId}`);
  }
  const out = map.filter((e) => (choice.include ? !names.includes(e.datname) : names.includes(e.datname))).map((e) => e.dbOid);
  if (out.length === 0) throw new Error(`Failed to find a match in database_map of backup ${backupId} for partial restore`);
  return out.sort((a, b) => a - b);
}
