import { describeTrust, planSsl, SslConfigError } from '../../core/pgSsl';

const HOME = '/home/dba';
const ROOT = '/home/dba/.postgresql/root.crt';
const plan = (env: Record<string, string>, files: string[] = [], host = 'db.example') => planSsl(env, host, HOME, (f) => files.includes(f));

describe('planSsl reads libpq variables as libpq does', () => {
  test('unset PGSSLMODE is prefer: TLS first, plain text if that fails, the certificate not checked without root.crt', () => {
    expect(plan({})).toEqual({ mode: 'prefer', first: 'tls', fallback: true, trust: { kind: 'none' }, checkHost: false });
    expect(plan({ PGSSLMODE: '' }).mode).toBe('prefer');
  });

  test('require encrypts without checking, unless ~/.postgresql/root.crt exists: then the chain is checked, not the name', () => {
    expect(plan({ PGSSLMODE: 'require' })).toMatchObject({ first: 'tls', fallback: false, trust: { kind: 'none' }, checkHost: false });
    expect(plan({ PGSSLMODE: 'require' }, [ROOT])).toMatchObject({ trust: { kind: 'file', path: ROOT }, checkHost: false });
    // prefer too checks a root.crt that is there.
    expect(plan({}, [ROOT]).trust).toEqual({ kind: 'file', path: ROOT });
  });

  test('verify-ca and verify-full need a root certificate; only verify-full checks the host name', () => {
    expect(() => plan({ PGSSLMODE: 'verify-ca' })).toThrow(new SslConfigError(
      `root certificate file "${ROOT}" does not exist; either provide the file (PGSSLROOTCERT), use the system's trusted roots ` +
        'with PGSSLROOTCERT=system, or change PGSSLMODE to disable server certificate verification',
    ));
    expect(plan({ PGSSLMODE: 'verify-ca', PGSSLROOTCERT: '/etc/ca.pem' }, ['/etc/ca.pem'])).toMatchObject({ trust: { kind: 'file', path: '/etc/ca.pem' }, checkHost: false });
    expect(plan({ PGSSLMODE: 'verify-full' }, [ROOT])).toMatchObject({ trust: { kind: 'file', path: ROOT }, checkHost: true });
    // A PGSSLROOTCERT that is not there is not replaced by the default file.
    expect(() => plan({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: '/nowhere.pem' }, [ROOT])).toThrow(/"\/nowhere.pem" does not exist/);
  });

  test('PGSSLROOTCERT=system trusts the system store and implies verify-full; a weaker mode with it is refused', () => {
    expect(plan({ PGSSLROOTCERT: 'system' })).toMatchObject({ mode: 'verify-full', trust: { kind: 'system' }, checkHost: true });
    expect(() => plan({ PGSSLROOTCERT: 'system', PGSSLMODE: 'require' })).toThrow('weaker sslmode "require" may not be used with sslrootcert=system (use "verify-full")');
  });

  test('allow tries plain text first and TLS after; disable never uses TLS', () => {
    expect(plan({ PGSSLMODE: 'allow' })).toMatchObject({ first: 'plain', fallback: true });
    expect(plan({ PGSSLMODE: 'disable' }, [ROOT])).toEqual({ mode: 'disable', first: 'plain', fallback: false, trust: { kind: 'none' }, checkHost: false });
  });

  test('a Unix-domain socket never uses TLS, whatever the mode', () => {
    for (const host of ['/var/run/postgresql', '@abstract']) {
      expect(plan({ PGSSLMODE: 'verify-full' }, [], host)).toMatchObject({ first: 'plain', fallback: false });
    }
  });

  test("node-postgres's no-verify is require without any check, even with a root.crt", () => {
    expect(plan({ PGSSLMODE: 'no-verify' }, [ROOT])).toMatchObject({ mode: 'require', fallback: false, trust: { kind: 'none' } });
  });

  test('an unknown mode is refused, naming the allowed ones', () => {
    expect(() => plan({ PGSSLMODE: 'on' })).toThrow('invalid sslmode value: "on" (PGSSLMODE takes disable, allow, prefer, require, verify-ca, verify-full)');
  });

  test('a client certificate is sent when its file is there; its key must be there too', () => {
    const crt = '/home/dba/.postgresql/postgresql.crt';
    const key = '/home/dba/.postgresql/postgresql.key';
    expect(plan({}, [crt, key]).clientCert).toEqual({ cert: crt, key });
    expect(plan({ PGSSLCERT: '/c.pem', PGSSLKEY: '/k.pem' }, ['/c.pem', '/k.pem']).clientCert).toEqual({ cert: '/c.pem', key: '/k.pem' });
    expect(() => plan({}, [crt])).toThrow(`certificate present, but not private key file "${key}"`);
    expect(plan({}, [key]).clientCert).toBeUndefined();
  });

  test('the revocation list is read along with a root certificate only', () => {
    const crl = '/home/dba/.postgresql/root.crl';
    expect(plan({ PGSSLMODE: 'require' }, [ROOT, crl]).crl).toBe(crl);
    expect(plan({ PGSSLMODE: 'require' }, [crl]).crl).toBeUndefined();
    expect(plan({ PGSSLMODE: 'require', PGSSLCRL: '/r.crl' }, [ROOT, '/r.crl']).crl).toBe('/r.crl');
  });

  test('describeTrust says what is checked', () => {
    expect(describeTrust(plan({ PGSSLMODE: 'verify-full' }, [ROOT]))).toBe(
      `the server's certificate is checked against ${ROOT}, and its name against the host connected to`,
    );
    expect(describeTrust(plan({ PGSSLMODE: 'require' }))).toBe("the server's certificate is not checked");
  });
});
