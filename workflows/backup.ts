/**
 * FULL backup as a Temporal workflow. Thin orchestration: every side effect is an activity, file
 * lists stay on disk in the catalog, and the only state here is what `show`-like progress needs.
 *
 * The backup session (pg_backup_start … pg_backup_stop, with WAL streamed into the backup) is ONE
 * long activity because PostgreSQL 15 ends a non-exclusive backup only on the connection that
 * started it; the workflow tells it the copy is done through requestBackupStop.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type * as catalogActivities from '../activities/catalog';
import type * as fileActivities from '../activities/files';
import type * as pgActivities from '../activities/postgres';
import type * as restoreActivities from '../activities/restore';
import type { BackupControl } from '../core/backupControl';
import { compareLsn, type Lsn } from '../core/lsn';
import type { BackupRequest, BackupResult } from '../core/requests';
import type { SessionResult, SessionStart } from '../activities/postgres';
import type { RecopyResult } from '../activities/files';
import { prettySize as prettyBytes } from '../core/show';
import { progressQuery, type Progress } from './progress';

const HOUR = 3600;

function activityOptions(req: BackupRequest) {
  const heartbeat = Math.max(5, req.rwTimeoutSec);
  const nonRetryableErrorTypes = [
    'InstanceNotFound', 'BadPgdata', 'SystemIdentifierMismatch', 'BackupInFuture', 'CorruptPage',
    'ConfigurationError', 'ServerMismatch', 'NotSupported', 'NoParentBackup',
  ];
  return {
    // Catalog writes and single queries: a worker that dies in one is replaced within this.
    short: {
      startToCloseTimeout: '45 seconds',
      retry: { maximumAttempts: 10, nonRetryableErrorTypes },
    },
    long: {
      // A cancelled backup ends once its activities have stopped and removed their temp files.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      startToCloseTimeout: `${24 * HOUR} seconds`,
      heartbeatTimeout: `${heartbeat} seconds`,
      retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20, nonRetryableErrorTypes },
    },
  } as const;
}

export async function backupWorkflow(req: BackupRequest): Promise<BackupResult> {
  const opts = activityOptions(req);
  // Catalog writes and single queries run as local activities, on the worker that runs this
  // workflow: no round trip through the server's queue for each (25 ms apiece on the dev server).
  const catalog = proxyLocalActivities<typeof catalogActivities>(opts.short);
  const pgShort = proxyLocalActivities<typeof pgActivities>(opts.short);
  const pgLong = proxyActivities<typeof pgActivities>({
    ...opts.long,
    // Waiting for the WAL of the stop LSN is bounded by --archive-timeout inside the activity.
  });
  // Listing and assembling the file list: seconds, or minutes with 100k files. They heartbeat as
  // they go, but not inside the directory walk itself: hence a timeout of at least a minute.
  const filesShort = proxyActivities<typeof fileActivities>({
    ...opts.short,
    startToCloseTimeout: `${HOUR} seconds`,
    heartbeatTimeout: `${Math.max(60, req.rwTimeoutSec)} seconds`,
  });
  const filesLong = proxyActivities<typeof fileActivities>(opts.long);
  const validator = proxyActivities<typeof restoreActivities>(opts.long);

  const progress: Progress = {
    operation: 'backup', phase: 'starting', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, log: [],
  };
  setHandler(progressQuery, () => progress);
  const log = (line: string) => progress.log.push(line);
  const resumeStats: RecopyResult[] = [];

  const server = await pgShort.inspectInstanceServer({ connection: req.connection });
  if (server.systemIdentifier !== req.systemIdentifier) {
    throw ApplicationFailure.nonRetryable(
      `system identifier of the server (${server.systemIdentifier}) differs from instance '${req.instance}' (${req.systemIdentifier}): ` +
        `check -h/-p/-d, PGHOST/PGPORT, or the instance's pg_probackup.conf`,
      'SystemIdentifierMismatch',
    );
  }
  // DELTA: the parent is chosen before anything is created, so that a catalog without a valid FULL
  // backup refuses the backup instead of leaving an ERROR one behind.
  const parent = req.backupMode === 'DELTA'
    ? await catalog.chooseDeltaParent({ backupPath: req.backupPath, instance: req.instance, timeline: server.timeline })
    : undefined;
  const prep = await catalog.prepareBackup({
    req,
    serverVersion: server.serverVersion,
    checksumVersion: server.dataChecksums ? 1 : 0,
    fromReplica: server.isInRecovery,
    timeline: server.timeline,
    primaryConninfo: server.primaryConninfo,
    parentBackupId: parent?.parentId as BackupControl['parentBackupId'],
  });
  const { backupId, backupDir } = prep;
  // Without -S or --temp-slot the backup streams through a slot of its own (see backupSession).
  const ownSlot = !req.slot && !req.tempSlot;
  progress.backupId = backupId;
  upsertSearchAttributes({ BackupId: [backupId], BackupStatus: ['RUNNING'] });
  log(
    `INFO: Backup start, gs_probackup version: 2.5.16, instance: ${req.instance}, backup ID: ${backupId}, ` +
      `backup mode: ${req.backupMode}, wal mode: STREAM, remote: false, compress-algorithm: ${req.compressAlg}, ` +
      `compress-level: ${req.compressLevel}`,
  );
  if (parent) {
    for (const w of parent.warnings) log(w);
    log(`INFO: Parent backup: ${parent.parentId}`);
  }
  if (!server.dataChecksums) {
    log('WARNING: This PostgreSQL instance was initialized without data block checksums. gs_probackup has no way to detect data block corruption without them. Reinitialize PGDATA with option \'--data-checksums\'.');
  }

  // The session is ended (cancelled) before a failed backup drops its slot: otherwise dropping the
  // slot would kill the session's WAL sender, and that induced failure could be reported as the cause.
  const sessionScope = new CancellationScope();
  let sessionSettled: Promise<unknown> = Promise.resolve();
  try {
    const sessionInput = {
      backupDir,
      backupId,
      connection: req.connection,
      smoothCheckpoint: req.smoothCheckpoint,
      slot: req.slot,
      tempSlot: req.tempSlot,
      walSegmentSize: server.walSegmentSize,
      archiveTimeoutSec: req.archiveTimeoutSec,
      rwTimeoutSec: req.rwTimeoutSec,
      noSync: req.noSync,
    };
    progress.phase = 'checkpoint';
    const sessionDone = sessionScope.run(() => pgLong.backupSession(sessionInput));
    sessionSettled = sessionDone.catch(() => undefined);
    // A session that fails for good must abort the copy instead of leaving it waiting.
    const sessionFailed = sessionDone.then(() => new Promise<never>(() => undefined));
    const session = await Promise.race([
      pgLong.currentBackupSession({ backupDir, timeoutSec: req.archiveTimeoutSec }),
      sessionFailed,
    ]);
    log(`INFO: wait for pg_backup_start()`);
    log(`INFO: Backup ${backupId} start LSN: ${session.startLsn}, timeline: ${session.timeline}`);
    if (parent && compareLsn(session.startLsn, parent.parentStartLsn) < 0) {
      throw ApplicationFailure.nonRetryable(
        `Current START LSN ${session.startLsn} is lower than START LSN ${parent.parentStartLsn} of previous backup ${parent.parentId}: ` +
          `the instance was restored from an older backup; take a FULL backup`,
        'NoParentBackup',
      );
    }

    progress.phase = 'listing files';
    const plan = await Promise.race([
      filesShort.planBackupCopy({
        backupDir,
        pgdata: req.pgdata,
        externalDirs: req.externalDirs,
        backupPgLog: req.backupPgLog,
        backupPgReplslot: req.backupPgReplslot,
      }),
      sessionFailed,
    ]);
    for (const w of plan.warnings) log(w);
    progress.filesTotal = plan.nFiles;
    progress.bytesTotal = plan.totalBytes;
    log(`INFO: PGDATA size: ${prettyBytes(plan.pgdataBytes)}`);
    log(`INFO: Start transferring data files`);

    progress.phase = 'copying';
    const copyStarted = Date.now();
    const copyInput = {
      backupDir,
      pgdata: req.pgdata,
      externalDirs: req.externalDirs,
      compressAlg: req.compressAlg,
      compressLevel: req.compressLevel,
      checksumVersion: server.dataChecksums ? 1 : 0,
      skipBlockValidation: req.skipBlockValidation,
      noSync: req.noSync,
      threads: req.threads,
      ...(parent ? { delta: { parentBackupDir: parent.parentDir, parentStartLsn: parent.parentStartLsn } } : {}),
    };
    await Promise.race([
      runPool(plan.nBatches, Math.max(1, req.threads), async (batchNo) => {
        const r = await filesLong.copyBatch({ ...copyInput, batchNo });
        progress.filesDone += r.files;
        progress.bytesDone += r.bytesRead;
      }),
      sessionFailed,
    ]);
    log(`INFO: Data files are transferred, time elapsed: ${elapsed(copyStarted)}`);

    // Stop the session the copy is valid for. If the session was lost (its worker died) a new one
    // runs with a new start LSN: first copy again what may have changed (activities/files/resume.ts).
    progress.phase = 'stopping backup';
    let under: SessionStart = session;
    let stop: SessionResult | undefined;
    while (!stop) {
      const cur = await Promise.race([pgLong.currentBackupSession({ backupDir, minAttempt: under.attempt, timeoutSec: req.archiveTimeoutSec }), sessionFailed]);
      if (cur.attempt !== under.attempt) {
        log(
          `WARNING: the backup session was lost and opened again (start LSN ${cur.startLsn}); ` +
            `copying again what may have changed since ${cur.firstStartLsn}`,
        );
        progress.phase = 'copying changes';
        let r: RecopyResult;
        try {
          r = await Promise.race([
            filesLong.recopyAfterSessionLoss({
              ...copyInput,
              batchNo: -1,
              backupPgLog: req.backupPgLog,
              backupPgReplslot: req.backupPgReplslot,
              attempt: cur.attempt,
              firstStartLsn: cur.firstStartLsn,
              newStartLsn: cur.startLsn,
              walContinuousSince: cur.walContinuousSince,
              timeline: cur.timeline,
              walSegmentSize: server.walSegmentSize,
              rwTimeoutSec: req.rwTimeoutSec,
            }),
            sessionFailed,
          ]);
        } catch (err) {
          // The new session was lost as well before the resume could use its WAL: resume under the next.
          if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'SessionSuperseded') continue;
          throw err;
        }
        resumeStats.push(r);
        log(
          `INFO: Resumed under the new session: ${r.filesCopied} files copied again, ${r.filesPatched} data files patched ` +
            `(${prettyBytes(r.bytesPatched)} of changed pages), ${prettyBytes(r.bytesRead)} read in all; ` +
            `${r.filesKept} data files (${prettyBytes(r.bytesKept)}) kept, ${r.filesDropped} dropped` +
            (r.walBased ? `; WAL since the first start changed ${r.changedBlocks} blocks` : '; the WAL since the first start is incomplete, so every data file was copied again'),
        );
        under = cur;
        progress.phase = 'stopping backup';
        continue;
      }
      log(`INFO: wait for pg_backup_stop()`);
      await pgShort.requestBackupStop({ backupDir, attempt: under.attempt });
      // Either this session stops, or it is lost before it could and a newer one appears.
      const ended = await Promise.race([pgLong.awaitSessionEnd({ backupDir, attempt: under.attempt }), sessionFailed]);
      if (ended.stopped) stop = await sessionDone;
    }
    log(`INFO: pg_backup_stop() LSN: ${stop.stopLsn}`);
    if (ownSlot) await pgShort.dropBackupSlot({ connection: req.connection, backupId });

    progress.phase = 'writing catalog';
    const pgControl = await filesShort.copyPgControl({ backupDir, pgdata: req.pgdata, noSync: req.noSync });
    const extraFiles = [
      'backup_label',
      ...(stop.tablespaceMap ? ['tablespace_map'] : []),
      ...(stop.databaseMap ? ['database_map'] : []),
      ...stop.walSegments.map((s) => `pg_wal/${s}`),
    ];
    const sums = await filesShort.assembleBackupContent({ backupDir, extraFiles, pgControl });
    if (!req.noSync) log(`INFO: Backup files are synced`);

    const control: BackupControl = {
      ...(await catalog.readBackupControl({ backupDir })),
      startLsn: stop.startLsn as Lsn,
      stopLsn: stop.stopLsn as Lsn,
      timelineId: stop.timeline,
      recoveryXid: stop.recoveryXid,
      recoveryTime: stop.recoveryTime,
      endTime: Math.floor(Date.now() / 1000),
      dataBytes: sums.dataBytes,
      walBytes: sums.walBytes,
      uncompressedBytes: sums.uncompressedBytes,
      pgdataBytes: sums.pgdataBytes,
      contentCrc: sums.contentCrc,
      status: 'DONE',
    };
    if (req.expireTime !== undefined) control.expireTime = req.expireTime;
    else if (req.ttlSec !== undefined && req.ttlSec > 0) control.expireTime = stop.recoveryTime + req.ttlSec;
    await catalog.writeBackupControl({ backupDir, control, noSync: req.noSync });

    if (!req.noValidate) {
      progress.phase = 'validating';
      log(`INFO: Validating backup ${backupId}`);
      const v = await validator.validateBackupForRestore({
        backupPath: req.backupPath,
        instance: req.instance,
        backupId,
        skipBlockValidation: req.skipBlockValidation,
        threads: req.threads,
        pagesVerifiedByCopy: !req.skipBlockValidation,
      });
      control.status = v.ok ? 'OK' : 'CORRUPT';
      await catalog.writeBackupControl({ backupDir, control, noSync: req.noSync });
      if (!v.ok) {
        throw ApplicationFailure.nonRetryable(`Backup ${backupId} is corrupt: ${v.errors.slice(0, 3).join('; ')}`, 'BackupCorrupt');
      }
      log(`INFO: Backup ${backupId} data files are valid`);
    }
    log(`INFO: Backup ${backupId} resident size: ${prettyBytes(sums.dataBytes + sums.walBytes)}`);
    log(`INFO: Backup ${backupId} completed`);
    upsertSearchAttributes({ BackupStatus: [control.status] });
    progress.phase = 'done';
    return {
      backupId,
      status: control.status,
      startLsn: control.startLsn,
      stopLsn: control.stopLsn,
      dataBytes: sums.dataBytes,
      walBytes: sums.walBytes,
    };
  } catch (err) {
    const reason = isCancellation(err) ? 'backup was cancelled' : errorMessage(err);
    await CancellationScope.nonCancellable(async () => {
      sessionScope.cancel();
      await sessionSettled;
      await catalog.markBackupError({ backupDir, reason });
      if (ownSlot) {
        try {
          await pgShort.dropBackupSlot({ connection: req.connection, backupId });
        } catch {
          log(`WARNING: could not drop replication slot gs_probackup_${backupId.toLowerCase()}: drop it with pg_drop_replication_slot()`);
        }
      }
      upsertSearchAttributes({ BackupStatus: ['ERROR'] });
    });
    progress.phase = 'failed';
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.nonRetryable(`Backup ${backupId} failed: ${reason}`, 'BackupFailed');
  }
}

/** Runs task(0..n-1) with at most `width` in flight; the first failure rejects. */
async function runPool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, lane));
}

function errorMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let msg = e?.message ?? String(err);
  while (e && e.cause) {
    e = e.cause as { message?: string; cause?: unknown };
    if (e?.message) msg = e.message;
  }
  return msg;
}

function elapsed(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m:${s % 60}s` : `${s}s`;
}
