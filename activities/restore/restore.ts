/**
 * Restore activities: prepareRestore (choose and check the backup and the target, refuse before
 * writing anything, then lay out directories and tablespace links and save the plan inside the
 * target), restoreBatch (files of one batch, each to a temp name then renamed: a retry rewrites),
 * finishRestore (recovery settings, fsync, remove the plan).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { activityInfo, ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { backupIdFromTime, backupIdToTime } from '../../core/backupId';
import type { FileEntry } from '../../core/backupContent';
import { parseBackupControl } from '../../core/backupControl';
import { catalogPaths } from '../../core/catalogPaths';
import { planBatches } from '../../core/batchPlan';
import { excludedDatabases, parseDatabaseMap } from '../../core/databaseMap';
import { dbOidOf } from '../../core/fileClassify';
import { parsePgControl } from '../../core/pgControl';
import { RECOVERY_SETTINGS_MARK, recoverySettings, type StandbySettings } from '../../core/recoveryConf';
import { parseTablespaceMap, planRestoreLayout, RestorePlanError, type RestoreLayout } from '../../core/restorePlan';
import type { RestoreRequest } from '../../core/requests';
import { BLCKSZ } from '../../core/types';
import { removeStaleTempFiles } from '../attemptGuard';
import { exists, fsyncDir, writeFileAtomic } from '../atomicWrite';
import { filePool, mapInFlight } from '../threads/pool';
import { loadRestoreChain, type RestoreChain } from './chainPlan';
import { restoreFileInPieces } from './restorePieces';
import { listProblems, loadBackup, storedPath } from './validate';
import { heartbeatEvery } from '../heartbeat';

const STATE_DIR = '.gs_probackup_restore';
const planPath = (pgdata: string) => path.join(pgdata, STATE_DIR, 'plan.json');

interface SavedPlan {
  owner: string;
  backupId: string;
  backupDir: string;
  entries: FileEntry[];
  layout: RestoreLayout;
  batches: number[][];
  /** An incremental backup's chain (FULL first) and where each file's content is. */
  chain?: RestoreChain;
  /** The backup has data checksums: a restore that validates verifies pages with them. */
  checksums: boolean;
  /** Directories the restore made (they did not exist): what abandonRestore may remove. */
  createdRoots: string[];
  /** What the file list lacks (validate.ts listProblems): a restore that validates refuses it. */
  listProblems: string[];
  /** A partial restore: the databases whose files it left empty. */
  excludedDatabases?: number[];
}

const refuse = (msg: string, type = 'RestoreRefused') => ApplicationFailure.nonRetryable(msg, type);

/**
 * The plan prepareRestore saved in the target. Its loss means someone removed or replaced the
 * target while the restore ran: no retry brings it back, so that is said at once.
 */
async function readPlan(pgdata: string): Promise<SavedPlan | null> {
  try {
    return JSON.parse(await fs.readFile(planPath(pgdata), 'utf8')) as SavedPlan;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function planLost(pgdata: string): ApplicationFailure {
  return refuse(
    `the restore's plan "${planPath(pgdata)}" is gone: "${pgdata}" was removed or changed while the restore ran; run the restore again`,
    'RestorePlanLost',
  );
}

async function readDirOrNull(dir: string): Promise<string[] | null> {
  try {
    return await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw refuse(`restore destination "${dir}" is not a directory`);
    throw refuse(`cannot read restore destination "${dir}": ${(e as Error).message}`);
  }
}

/** A live postmaster.pid means a server runs in that directory. */
async function runningServerPid(pgdata: string): Promise<number | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

async function chooseBackup(req: RestoreRequest): Promise<string> {
  if (req.backupId) return req.backupId;
  const dir = catalogPaths.instanceDir(req.backupPath, req.instance);
  const ids = (await fs.readdir(dir)).filter((n) => backupIdToTime(n) !== null).sort((a, b) => backupIdToTime(b)! - backupIdToTime(a)!);
  for (const id of ids) {
    try {
      const file = catalogPaths.backupControl(path.join(dir, id));
      const c = parseBackupControl(await fs.readFile(file, 'utf8'), file);
      if (c.status === 'OK' || c.status === 'DONE') return backupIdFromTime(c.startTime);
    } catch {
      /* unreadable: not a candidate */
    }
  }
  throw refuse(`cannot find a valid backup of instance '${req.instance}' to restore: no backup has status OK or DONE`);
}

export interface PreparedRestore {
  backupId: string;
  nBatches: number;
  nFiles: number;
  totalBytes: number;
  pgdataBytes: number;
  /** The chain restored, FULL first (just the backup for a FULL one); backupUsers reads the IDs. */
  backups: { id: string; dir: string }[];
  /**
   * For a restore that validates a FULL backup as it reads it (restoreBatch's `validate`): what
   * its file list lacks (validate.ts listProblems), which no file read would find.
   */
  listProblems: string[];
  /** A partial restore: the OIDs of the databases whose files it left empty. */
  excludedDatabases?: number[];
}

export async function prepareRestore(req: RestoreRequest): Promise<PreparedRestore> {
  const info = activityInfo();
  const owner = `${info.workflowExecution?.workflowId}/${info.workflowExecution?.runId}`;
  const backupId = await chooseBackup(req);
  // A retry finds the plan its first attempt saved.
  let saved = await readPlan(req.pgdata).catch(() => null);
  if (saved && saved.owner === owner) {
    return summary(saved);
  }

  let loaded;
  try {
    loaded = await loadBackup(req.backupPath, req.instance, backupId);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw refuse(`backup ${backupId} of instance '${req.instance}' does not exist in "${req.backupPath}"`);
    throw refuse(`backup ${backupId} cannot be read: ${(e as Error).message}`);
  }
  const { backupDir, control, entries } = loaded;
  if (control.status !== 'OK' && control.status !== 'DONE' && !req.force) {
    throw refuse(`Backup ${backupId} has status: ${control.status}. Restore of a backup with this status is not allowed: validate it, or use --force`);
  }
  const chain = await loadRestoreChain(req, backupId, loaded);
  const pgControlFile = path.join(catalogPaths.databaseDir(backupDir), 'global', 'pg_control');
  let sysid: string;
  try {
    sysid = parsePgControl(await fs.readFile(pgControlFile)).systemIdentifier;
  } catch (e) {
    throw refuse(`backup ${backupId} has no readable pg_control ("${pgControlFile}"): ${(e as Error).message}`);
  }
  if (sysid !== req.systemIdentifier) {
    throw refuse(
      `backup ${backupId} has system identifier ${sysid}, but instance '${req.instance}' has ${req.systemIdentifier}: ` +
        `the backup belongs to another cluster`,
    );
  }
  const pid = await runningServerPid(req.pgdata);
  if (pid !== null) {
    throw refuse(`a PostgreSQL server is running in "${req.pgdata}" (postmaster.pid, PID ${pid}): stop it before restoring into this directory`);
  }
  let tablespaceMap = '';
  try {
    tablespaceMap = await fs.readFile(path.join(catalogPaths.databaseDir(backupDir), 'tablespace_map'), 'utf8');
  } catch {
    /* no tablespaces */
  }
  let layout: RestoreLayout;
  try {
    layout = planRestoreLayout({
      entries,
      pgdata: req.pgdata,
      tablespaces: parseTablespaceMap(tablespaceMap),
      backupExternalDirs: control.externalDirs ?? [],
      tablespaceMapping: req.tablespaceMapping,
      externalMapping: req.externalMapping,
      skipExternalDirs: req.skipExternalDirs,
    });
  } catch (e) {
    if (e instanceof RestorePlanError) throw refuse(e.message, 'BadMapping');
    throw e;
  }
  // A partial restore leaves the files of the databases it excludes empty, as pg_probackup does:
  // PostgreSQL starts, and the DBA drops them.
  let excluded: number[] | undefined;
  let emptyFiles: string[] = [];
  if (req.partial) {
    if (!entries.some((e) => e.externalDirNum === 0 && e.path === 'database_map')) {
      throw refuse(`Backup ${backupId} doesn't contain a database_map, partial restore is impossible.`);
    }
    try {
      const map = parseDatabaseMap(await fs.readFile(path.join(catalogPaths.databaseDir(backupDir), 'database_map'), 'utf8'));
      excluded = excludedDatabases(map, req.partial, backupId);
    } catch (e) {
      throw refuse((e as Error).message);
    }
    const skip = new Set(excluded);
    const leftOut = (f: RestoreLayout['files'][number]) => entries[f.entry].externalDirNum === 0 && skip.has(dbOidOf(entries[f.entry].path));
    emptyFiles = layout.files.filter(leftOut).map((f) => f.target);
    layout = { ...layout, files: layout.files.filter((f) => !leftOut(f)) };
  }
  const createdRoots: string[] = [];
  for (const root of layout.roots) {
    const names = await readDirOrNull(root);
    if (names && names.length > 0) {
      throw refuse(`restore destination is not empty: "${root}"${root === req.pgdata ? '' : ' (a tablespace or external directory of the backup: map it elsewhere with -T or --external-mapping)'}`);
    }
    if (!names) createdRoots.push(root);
  }

  // Checks passed: from here on we write.
  for (const root of layout.roots) await fs.mkdir(root, { recursive: true, mode: 0o700 });
  await fs.mkdir(path.join(req.pgdata, STATE_DIR), { mode: 0o700 });
  for (const d of layout.dirs) await fs.mkdir(d.target, { recursive: true, mode: d.mode });
  for (const f of emptyFiles) await fs.writeFile(f, '', { mode: 0o600 });
  for (const l of layout.links) {
    await fs.mkdir(path.dirname(l.link), { recursive: true, mode: 0o700 });
    await fs.rm(l.link, { recursive: true, force: true });
    await fs.symlink(l.target, l.link);
  }
  const readBytes = (i: number) => (chain.sources[i] ?? [{ member: chain.members.length - 1, index: i }]).reduce((s, c) => s + Math.max(chain.members[c.member].entries[c.index].size, 0), 0);
  const batches = planBatches(layout.files.map((f) => readBytes(f.entry)));
  saved = {
    owner,
    backupId,
    backupDir,
    entries,
    layout,
    batches,
    ...(chain.members.length > 1 ? { chain } : {}),
    checksums: control.checksumVersion !== 0,
    createdRoots,
    listProblems: listProblems(backupId, control, entries),
    ...(excluded ? { excludedDatabases: excluded } : {}),
  };
  await writeFileAtomic(planPath(req.pgdata), JSON.stringify(saved), { sync: !req.noSync });
  return summary(saved);
}

function summary(p: SavedPlan): PreparedRestore {
  const sizeOf = (e: FileEntry) => (e.isDatafile ? (e.nBlocks ?? 0) * BLCKSZ : Math.max(e.size, 0));
  const copies = (i: number) => sourcesOf(p, i).map((c) => c.entry);
  return {
    backupId: p.backupId,
    nBatches: p.batches.length,
    nFiles: p.layout.files.length,
    totalBytes: p.layout.files.reduce((s, f) => s + copies(f.entry).reduce((t, e) => t + Math.max(e.size, 0), 0), 0),
    pgdataBytes: p.layout.files.reduce((s, f) => s + sizeOf(p.entries[f.entry]), 0),
    backups: p.chain ? p.chain.members.map((m) => ({ id: m.id, dir: m.backupDir })) : [{ id: p.backupId, dir: p.backupDir }],
    listProblems: p.listProblems,
    ...(p.excludedDatabases ? { excludedDatabases: p.excludedDatabases } : {}),
  };
}

/** The stored copies entry `i` of the restored backup is made of, newest first. */
function sourcesOf(p: SavedPlan, i: number): { backupDir: string; entry: FileEntry }[] {
  const src = p.chain?.sources[i];
  if (!src) return [{ backupDir: p.backupDir, entry: p.entries[i] }];
  return src.map((c) => ({ backupDir: p.chain!.members[c.member].backupDir, entry: p.chain!.members[c.member].entries[c.index] }));
}

/**
 * One batch of the plan into place. `validate`: check every file as validate would while reading
 * it (a backup of one member only, whose every file the restore reads: restoreWorkflow).
 */
export async function restoreBatch(input: { pgdata: string; batchNo: number; noSync: boolean; threads?: number; validate?: { blockValidation: boolean } }): Promise<{ files: number; bytes: number }> {
  const ctx = Context.current();
  const pool = filePool();
  pool.allow(input.threads ?? 1);
  const plan = await readPlan(input.pgdata);
  if (!plan) throw planLost(input.pgdata);
  const beat = heartbeatEvery(ctx);
  const check = input.validate ? { pages: input.validate.blockValidation, checksums: plan.checksums } : undefined;
  let bytes = 0;
  // As many files in flight as the threads take: small files overlap their opens and fsyncs.
  await mapInFlight(plan.batches[input.batchNo], pool.capacity, async (i) => {
    const { entry, target } = plan.layout.files[i];
    const e = plan.entries[entry];
    // Restored content is the backup's, the same for every attempt: no claim needed, but a
    // cancelled (superseded) attempt stops.
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure(`attempt ${ctx.info.attempt} was cancelled`);
    // A temp name per attempt: a stale attempt of a frozen worker may still be writing its own.
    const tmp = `${target}.gs_restore_tmp${ctx.info.attempt}`;
    const onBytes = (k: number) => {
      bytes += k;
      beat({ batch: input.batchNo, bytes });
    };
    const copies = sourcesOf(plan, entry);
    if (plan.chain?.sources[entry] && e.isDatafile) {
      // Pages of an incremental chain: the newest copy of each block wins.
      const args = { copies: copies.map((c) => ({ file: storedPath(c.backupDir, c.entry), entry: c.entry })), nBlocks: e.nBlocks ?? 0, mode: e.mode, target, tmp, sync: !input.noSync };
      await pool.run('restoreChainFile', args, onBytes, ctx.cancellationSignal);
    } else {
      // A non-data file unchanged since the parent comes from the newest backup that stored it.
      await restoreFileInPieces({ backupDir: copies[0].backupDir, entry: { ...copies[0].entry, mode: e.mode }, target, tmp, sync: !input.noSync, check }, onBytes, ctx.cancellationSignal);
    }
  });
  const files = plan.batches[input.batchNo].length;
  return { files, bytes };
}

/**
 * Takes back what a restore wrote, once it found the backup corrupt: the target is left as the
 * restore found it (empty, or absent), as a validation before the restore would have left it. Only
 * what the plan names is removed; a directory someone else wrote into meanwhile stays.
 */
export async function abandonRestore(input: { pgdata: string }): Promise<void> {
  const plan = await readPlan(input.pgdata);
  if (!plan) return; // nothing planned, or already taken back
  const { layout } = plan;
  await mapInFlight(layout.files, 16, (f) => fs.rm(f.target, { force: true }));
  const dirs = [...new Set([input.pgdata, ...layout.roots, ...layout.dirs.map((d) => d.target)])];
  await removeStaleTempFiles(dirs, /\.gs_restore_tmp\d+$/);
  for (const l of layout.links) await fs.rm(l.link, { force: true });
  const rmdir = (d: string) => fs.rmdir(d).catch(() => undefined);
  // Deepest first, so that each directory is empty by the time its turn comes.
  for (const d of layout.dirs.map((x) => x.target).sort((a, b) => b.length - a.length)) await rmdir(d);
  await fs.rm(path.join(input.pgdata, STATE_DIR), { recursive: true, force: true });
  for (const r of [...plan.createdRoots].sort((a, b) => b.length - a.length)) await rmdir(r);
}

export async function finishRestore(input: {
  pgdata: string;
  noSync: boolean;
  recovery?: RestoreRequest['recovery'];
  replica?: RestoreRequest['replica'];
}): Promise<{ log: string[] }> {
  const plan = await readPlan(input.pgdata);
  if (!plan) {
    // Removing the plan is this step's last act: a retry after it finds the restore finished.
    if (await exists(path.join(input.pgdata, 'PG_VERSION'))) return { log: [] };
    throw planLost(input.pgdata);
  }
  const log: string[] = [];
  let standby: StandbySettings | undefined;
  if (input.replica) {
    // The backup's own connection, as pg_probackup does, unless --primary-conninfo says otherwise.
    const control = parseBackupControl(await fs.readFile(catalogPaths.backupControl(plan.backupDir), 'utf8'), catalogPaths.backupControl(plan.backupDir));
    standby = { primaryConninfo: input.replica.primaryConninfo ?? control.primaryConninfo, primarySlotName: input.replica.primarySlotName };
    if (!standby.primaryConninfo) {
      log.push(
        `WARNING: backup ${plan.backupId} records no primary_conninfo and none was given (--primary-conninfo): ` +
          `the standby will not connect to a primary until primary_conninfo is set in "${path.join(input.pgdata, 'postgresql.auto.conf')}"`,
      );
    }
  }
  const settings = recoverySettings(plan.backupId, input.recovery, standby, new Date());
  if (settings) {
    const auto = path.join(input.pgdata, 'postgresql.auto.conf');
    const before = await fs.readFile(auto, 'utf8').catch(() => '');
    // Idempotent: a retry rewrites the whole file from what the backup had.
    const base = before.split(RECOVERY_SETTINGS_MARK)[0];
    await writeFileAtomic(auto, base + settings.text, { sync: !input.noSync });
    if (settings.recovery) await writeFileAtomic(path.join(input.pgdata, 'recovery.signal'), '', { sync: !input.noSync });
    if (settings.standby) await writeFileAtomic(path.join(input.pgdata, 'standby.signal'), '', { sync: !input.noSync });
  }
  const dirs = new Set<string>([input.pgdata, ...plan.layout.roots, ...plan.layout.dirs.map((d) => d.target)]);
  await removeStaleTempFiles(dirs, /\.gs_restore_tmp\d+$/);
  if (!input.noSync) {
    for (const d of dirs) await fsyncDir(d).catch(() => undefined);
  }
  await fs.rm(path.join(input.pgdata, STATE_DIR), { recursive: true, force: true });
  return { log };
}
