import { conninfoValue, formatConninfo, primaryConninfo } from '../../core/conninfo';

it('quotes a value only where libpq needs it', () => {
  expect(conninfoValue('alice')).toBe('alice');
  expect(conninfoValue('/run/postgresql')).toBe('/run/postgresql');
  expect(conninfoValue('')).toBe("''");
  expect(conninfoValue('two words')).toBe("'two words'");
  expect(conninfoValue("o'neil")).toBe("'o\\'neil'");
  expect(conninfoValue('back\\slash')).toBe("'back\\\\slash'");
});

it('leaves out what has no value, and keeps the order given', () => {
  expect(formatConninfo([['user', 'u'], ['host', undefined], ['port', 5433], ['sslmode', '']])).toBe('user=u port=5433');
});

it('records the connection for a standby: libpq TLS settings from the environment, never a password', () => {
  expect(primaryConninfo({ user: 'backup', host: '/tmp/s', port: 5432, env: {} })).toBe('user=backup host=/tmp/s port=5432 sslmode=prefer');
  const env = { PGSSLMODE: 'verify-full', PGSSLROOTCERT: '/etc/ca dir/root.crt', PGPASSWORD: 'secret', PGDATABASE: 'db' };
  expect(primaryConninfo({ user: 'backup', host: 'db1', port: 5432, env })).toBe("user=backup host=db1 port=5432 sslmode=verify-full sslrootcert='/etc/ca dir/root.crt'");
});
