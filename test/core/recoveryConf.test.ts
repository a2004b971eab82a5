import { RECOVERY_SETTINGS_MARK, recoverySettings } from '../../core/recoveryConf';

const now = new Date('2026-12-01T05:00:00.000Z');

it('asks for nothing on a plain restore', () => {
  expect(recoverySettings('T1', undefined, undefined, now)).toBeNull();
  expect(recoverySettings('T1', {}, undefined, now)).toBeNull();
});

it('writes recovery settings with recovery.signal for a target', () => {
  const s = recoverySettings('T1', { targetLsn: '0/3000000', targetAction: 'promote' }, undefined, now)!;
  expect(s).toEqual({
    recovery: true,
    standby: false,
    text:
      `${RECOVERY_SETTINGS_MARK} restore of backup T1 at '2026-12-01T05:00:00.000Z'\n` +
      "restore_command = 'false'  # no WAL archive: recovery replays the WAL in pg_wal\n" +
      "recovery_target_lsn = '0/3000000'\nrecovery_target_action = 'promote'\n",
  });
});

it('writes standby settings with standby.signal for -R, quoting as postgresql.conf does', () => {
  const s = recoverySettings('T1', undefined, { primaryConninfo: "host=db1 application_name='a b'", primarySlotName: 's1' }, now)!;
  expect(s.recovery).toBe(false);
  expect(s.standby).toBe(true);
  expect(s.text.split('\n').slice(2)).toEqual(['## standby settings', "primary_conninfo = 'host=db1 application_name=''a b'''", "primary_slot_name = 's1'", '']);
  // Without a conninfo (a backup that recorded none): still a standby, told nothing to connect to.
  expect(recoverySettings('T1', undefined, {}, now)!.text.split('\n').slice(2)).toEqual(['## standby settings', '']);
});

it('writes both for -R with a target', () => {
  const s = recoverySettings('T1', { targetName: 'before' }, { primaryConninfo: 'host=db1' }, now)!;
  expect([s.recovery, s.standby]).toEqual([true, true]);
  expect(s.text).toMatch(/recovery_target_name = 'before'\n## standby settings\nprimary_conninfo = 'host=db1'\n$/);
});
