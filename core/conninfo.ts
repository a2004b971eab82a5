/**
 * libpq connection strings (keyword=value pairs): what a backup records as primary_conninfo, and
 * what a standby restored with -R connects to its primary with.
 */

/**
 * A value as libpq reads it: bare when it is plain, else single-quoted with `\` before a quote or
 * backslash (libpq's conninfo_parse).
 */
export function conninfoValue(v: string): string {
  return v !== '' && /^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** The pairs given a value, in order: `user=alice host=/run/postgresql port=5432`. */
export function formatConninfo(pairs: ReadonlyArray<readonly [string, string | number | undefined]>): string {
  return pairs
    .filter((p): p is readonly [string, string | number] => p[1] !== undefined && p[1] !== '')
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

/**
 * pg_probackup records its connection's parameters as primary_conninfo without the ones a standby
 * must not inherit: the password (a standby takes it from its own .pgpass), dbname, replication,
 * options, application names.
 */
export function primaryConninfo(p: { user?: string; host?: string; port?: number; env: Record<string, string | undefined> }): string {
  const { env } = p;
  return formatConninfo([
    ['user', p.user],
    ['host', p.host],
    ['port', p.port],
    ['sslmode', env.PGSSLMODE || 'prefer'],
    ['sslrootcert', env.PGSSLROOTCERT],
    ['sslcert', env.PGSSLCERT],
    ['sslkey', env.PGSSLKEY],
    ['sslcrl', env.PGSSLCRL],
  ]);
}
