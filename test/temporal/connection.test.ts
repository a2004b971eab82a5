import { connectTemporal, plainReason } from '../../client/temporal/connection';

jest.setTimeout(30_000);

test('remote mode: the context names the server, namespace and task queue', async () => {
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest.config.js');
  const ctx = await connectTemporal({ env: { TEMPORAL_ADDRESS: address } });
  try {
    expect(ctx).toMatchObject({ mode: 'remote', address, namespace: 'default', taskQueue: 'gs_probackup' });
    expect(ctx.embedded).toBeUndefined();
  } finally {
    await ctx.close();
    await ctx.close(); // idempotent
  }
});

test('an unknown namespace is named with the variable that sets it', async () => {
  const address = process.env.TEMPORAL_TEST_ADDRESS!;
  await expect(connectTemporal({ env: { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'no-such-ns' } })).rejects.toThrow(
    `namespace "no-such-ns" does not exist on Temporal at ${address} (TEMPORAL_ADDRESS): create it, or set TEMPORAL_NAMESPACE`,
  );
});

test('connection errors name the address and where it came from', async () => {
  await expect(connectTemporal({ env: { TEMPORAL_ADDRESS: '127.0.0.1:1' } })).rejects.toThrow(
    'cannot connect to Temporal at 127.0.0.1:1 (TEMPORAL_ADDRESS): connection refused (is the server running and listening on that address?)',
  );
});

test('without TEMPORAL_ADDRESS a catalog is needed', async () => {
  await expect(connectTemporal({ env: {} })).rejects.toThrow(
    'no Temporal server: set TEMPORAL_ADDRESS, or give -B/--backup-path (BACKUP_PATH) to use the embedded server',
  );
});

test('transport errors are shortened', () => {
  expect(plainReason('tonic::transport::Error(Transport, ConnectError(ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })))')).toMatch(/^connection refused/);
  expect(plainReason('something else')).toBe('something else');
});
