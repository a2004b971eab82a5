/**
 * Merge activities (spec §9), each idempotent, so that a merge killed anywhere and run again ends
 * with the same backup:
 *
 * - beginMerge: the FULL backup MERGING with merge-dest-id, the incrementals MERGING.
 * - planMerge: every member's file list and what becomes of each file (core/mergePlan.ts), saved
 *   in the FULL backup's state directory; batches of files.
 * - mergeBatch: a batch's files into a staging directory inside the FULL backup (hard links to
 *   copies that are whole, rebuilt data files otherwise); the FULL backup's own files are not
 *   touched, so a retry reads the same chain.
 * - commitMerge: once the new file list, header map and backup.control are staged, commit.json
 *   says so (the point of no return); then the staged files move over the FULL backup's, files
 *   the destination lacks go, and the FULL backup becomes MERGED. Every step of that can run again.
 * - finishMerge: the incrementals are deleted (oldest first), the FULL backup's directory takes
 *   the destination's name and ID, status OK.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { backupContentCrc, isDirectoryEntry, parseBackupContent, serializeBackupContent, type FileEntry } from '../../core/backupContent';
import { parseBackupControl, serializeBackupControl, type BackupControl } from '../../core/backupControl';
import { backupIdToTime } from '../../core/backupId';
import { planBatches } from '../../core/batchPlan';
import { catalogPaths } from '../../core/catalogPaths';
import { contentSums, finishedControl, mergedControl, planMergeActions, type MergeAction } from '../../core/mergePlan';
import { ChainPlanError } from '../../core/restoreChain';
import type { CompressAlg } from '../../core/types';
import { AttemptGuard } from '../attemptGuard';
import { exists, fsyncDir, readJson, writeFileAtomic } from '../atomicWrite';
import { readBackupControl, writeBackupControl } from '../catalog/backupCatalog';
import { deleteBackupFiles } from '../catalog/deleteBackup';
import type { DataFileOptions } from '../files/copyFile';
import { readHeaderBlob } from '../restore/pageHeaders';
import { storedPath } from '../restore/validate';
import { filePool } from '../threads/pool';
import { heartbeatEvery } from '../heartbeat';

const mergeDir = (fullDir: string) => path.join(catalogPaths.stateDir(fullDir), 'merge');
const planPath = (fullDir: string) => path.join(mergeDir(fullDir), 'plan.json');
const commitPath = (fullDir: string) => path.join(mergeDir(fullDir), 'commit.json');
const stageDir = (fullDir: string) => path.join(mergeDir(fullDir), 'stage');
const batchFile = (fullDir: string, n: number, ext: string) => path.join(mergeDir(fullDir), 'batches', `${n}.${ext}`);

/** Where an entry lives inside a backup directory: database/… or external_directories/externaldirN/…. */
function relInBackup(e: { path: string; externalDirNum: number }): string {
  return e.externalDirNum === 0 ? path.join('database', e.path) : path.join('external_directories', `externaldir${e.externalDirNum}`, e.path);
}

/** Merge batches: small enough that a retry redoes little, few enough to keep history small. */
const MERGE_BATCH_LIMITS = { maxBytes: 64 * 1024 * 1024, maxFiles: 250 };

interface Member {
  id: string;
  dir: string;
  control: BackupControl;
  entries: FileEntry[];
}

interface MergePlanFile {
  destId: string;
  members: Member[];
  actions: MergeAction[];
  batches: number[][];
  /** When the merge began (merge-time of the result). */
  mergeTime: number;
}

interface BatchOutcome {
  /** Index in the destination's list, the merged entry, and its header blob in the batch's .hdr file. */
  results: { index: number; entry: FileEntry; staged: boolean; hdr?: [number, number] }[];
  bytes: number;
}

interface CommitRecord {
  destId: string;
  /** backup.control of the merged backup (MERGED). */
  control: string;
  /** Paths inside the backup directory: every file and directory of the merged list, staged files, empty files. */
  keep: string[];
  staged: string[];
  empty: string[];
}

const refuse = (msg: string) => ApplicationFailure.nonRetryable(msg, 'MergeRefused');

async function syncFile(file: string): Promise<void> {
  const fh = await fs.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Heartbeats every second while `fn` runs: one long step (removing a large backup's directory)
 * is not a dead worker, while a killed worker stops heartbeating at once and is retried soon.
 */
async function beating<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 1000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/** Marks the chain MERGING (spec §9 step 2); a re-run finds it so and goes on. */
export async function beginMerge(input: { fullDir: string; destId: string; incrementals: { id: string; dir: string }[] }): Promise<{ fullStatus: string }> {
  const full = await readBackupControl({ backupDir: input.fullDir });
  if ((full.status === 'MERGING' || full.status === 'MERGED') && full.mergeDestId !== input.destId) {
    throw refuse(`Full backup ${path.basename(input.fullDir)} has unfinished merge with backup ${full.mergeDestId}`);
  }
  if (full.status === 'MERGED') return { fullStatus: 'MERGED' };
  if (full.status === 'OK' || full.status === 'DONE') {
    await writeBackupControl({ backupDir: input.fullDir, control: { ...full, mergeDestId: input.destId as BackupControl['mergeDestId'], status: 'MERGING' } });
  } else if (full.status !== 'MERGING') {
    throw refuse(`Backup ${path.basename(input.fullDir)} has status: ${full.status}`);
  }
  for (const inc of input.incrementals) {
    const c = await readBackupControl({ backupDir: inc.dir });
    if (c.status === 'OK' || c.status === 'DONE') await writeBackupControl({ backupDir: inc.dir, control: { ...c, status: 'MERGING' } });
  }
  return { fullStatus: 'MERGING' };
}

async function loadMember(id: string, dir: string): Promise<Member> {
  const controlFile = catalogPaths.backupControl(dir);
  const control = parseBackupControl(await fs.readFile(controlFile, 'utf8'), controlFile);
  const contentFile = catalogPaths.backupContent(dir);
  const text = await fs.readFile(contentFile, 'utf8');
  if (control.contentCrc && backupContentCrc(text) !== control.contentCrc) {
    throw refuse(`file "${contentFile}" of backup ${id} is damaged: its CRC differs from content-crc in backup.control; merge is aborted`);
  }
  return { id, dir, control, entries: parseBackupContent(text, contentFile) };
}

export interface MergePlanSummary {
  nBatches: number;
  /** Files the batches keep, link or rebuild. */
  nFiles: number;
  /** Bytes the batches read (the copies of rebuilt files). */
  totalBytes: number;
  /** The copy is over and commitMerge has begun: the batches must not run again. */
  committing: boolean;
}

function summarize(p: MergePlanFile, committing: boolean): MergePlanSummary {
  let totalBytes = 0;
  for (const b of p.batches) {
    for (const i of b) {
      const a = p.actions[i];
      if (a.kind === 'build') for (const s of a.sources) totalBytes += Math.max(p.members[s.member].entries[s.index].size, 0);
    }
  }
  return { nBatches: p.batches.length, nFiles: p.batches.reduce((n, b) => n + b.length, 0), totalBytes, committing };
}

/** Reads the chain's file lists and decides each file's fate; saved once, reused by every retry. */
export async function planMerge(input: { fullDir: string; destId: string; members: { id: string; dir: string }[] }): Promise<MergePlanSummary> {
  const saved = await readJson<MergePlanFile>(planPath(input.fullDir));
  const committing = await exists(commitPath(input.fullDir));
  if (saved && saved.destId === input.destId) return summarize(saved, committing);
  if (committing) throw refuse(`the merge into ${input.destId} was committed but its plan is lost: ${planPath(input.fullDir)}`);
  const ctx = Context.current();
  const members: Member[] = [];
  for (const m of input.members) {
    members.push(await loadMember(m.id, m.dir));
    ctx.heartbeat({ loaded: m.id });
  }
  let actions: MergeAction[];
  try {
    actions = planMergeActions(members.map((m) => m.entries), members.map((m) => m.id));
  } catch (e) {
    if (e instanceof ChainPlanError) throw refuse(`merge of backup ${input.destId} is impossible: ${e.message}`);
    throw e;
  }
  const work = actions.map((a, i) => ({ a, i })).filter(({ a }) => a.kind === 'keep' || a.kind === 'link' || a.kind === 'build');
  const bytesOf = (a: MergeAction) => (a.kind === 'build' ? a.sources.reduce((s, c) => s + Math.max(members[c.member].entries[c.index].size, 0), 0) : 0);
  const batches = planBatches(work.map(({ a }) => Math.max(bytesOf(a), 4096)), MERGE_BATCH_LIMITS).map((b) => b.map((j) => work[j].i));
  const plan: MergePlanFile = { destId: input.destId, members, actions, batches, mergeTime: Math.floor(Date.now() / 1000) };
  await fs.mkdir(path.join(mergeDir(input.fullDir), 'batches'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(planPath(input.fullDir), JSON.stringify(plan));
  return summarize(plan, false);
}

/** One batch of files into the staging directory; a batch that finished before returns its record. */
export async function mergeBatch(input: { fullDir: string; batchNo: number; noSync: boolean; threads?: number }): Promise<{ files: number; bytes: number }> {
  const done = batchFile(input.fullDir, input.batchNo, 'json');
  const prev = await readJson<BatchOutcome>(done);
  if (prev) return { files: prev.results.length, bytes: prev.bytes };
  const plan = (await readJson<MergePlanFile>(planPath(input.fullDir)))!;
  const ctx = Context.current();
  const guard = await AttemptGuard.claim(batchFile(input.fullDir, input.batchNo, 'claim'));
  const pool = filePool();
  pool.allow(input.threads ?? 1);
  const dest = plan.members[plan.members.length - 1];
  const opts: DataFileOptions = {
    compressAlg: dest.control.compressAlg as CompressAlg,
    compressLevel: dest.control.compressLevel,
    checksumVersion: dest.control.checksumVersion,
    // The chain was validated page by page; the pages are not the database's, nothing is torn.
    skipBlockValidation: true,
    noSync: input.noSync,
  };
  const out: BatchOutcome = { results: [], bytes: 0 };
  const blobs: Buffer[] = [];
  let hdrOff = 0;
  const beat = heartbeatEvery(ctx);
  const onBytes = (n: number) => {
    out.bytes += n;
    beat({ batch: input.batchNo, bytes: out.bytes });
  };
  for (const i of plan.batches[input.batchNo]) {
    await guard.check();
    const a = plan.actions[i];
    const e = dest.entries[i];
    const staged = path.join(stageDir(input.fullDir), relInBackup(e));
    let entry: FileEntry;
    let blob: Buffer | undefined;
    if (a.kind === 'keep' || a.kind === 'link') {
      const m = plan.members[a.kind === 'keep' ? 0 : a.member];
      const c = m.entries[a.index];
      entry = { ...c, path: e.path, mode: e.mode, externalDirNum: e.externalDirNum, dbOid: e.dbOid };
      blob = c.isDatafile ? await readHeaderBlob(m.dir, c) : undefined;
      if (a.kind === 'link') {
        // The copy outlives its backup through the link: files of a backup are never rewritten in place.
        await fs.mkdir(path.dirname(staged), { recursive: true, mode: 0o700 });
        const tmp = staged + guard.tmpSuffix;
        await fs.rm(tmp, { force: true });
        const src = storedPath(m.dir, c);
        await fs.link(src, tmp).catch(async () => {
          // Another file system (or no hard links): a copy, made durable like every file of a backup.
          await fs.copyFile(src, tmp);
          if (!input.noSync) await syncFile(tmp);
        });
        await guard.commit(tmp, staged);
      }
      beat({ batch: input.batchNo, bytes: out.bytes });
    } else if (a.kind === 'build') {
      await fs.mkdir(path.dirname(staged), { recursive: true, mode: 0o700 });
      const tmp = staged + guard.tmpSuffix;
      const copies = a.sources.map((s) => {
        const m = plan.members[s.member];
        return { file: storedPath(m.dir, m.entries[s.index]), entry: m.entries[s.index] };
      });
      let copied;
      try {
        copied = await pool.run('mergeDataFile', { copies, nBlocks: e.nBlocks ?? 0, segno: e.segno ?? 0, plain: `${staged}.gs_merge${ctx.info.attempt}`, tmp, opts }, onBytes, ctx.cancellationSignal);
        await guard.commit(tmp, staged);
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw err;
      }
      entry = {
        path: e.path, size: copied.writeSize, mode: e.mode, isDatafile: true, isCfs: false, crc: copied.crc, compressAlg: copied.compressAlg,
        externalDirNum: e.externalDirNum, dbOid: e.dbOid, fullSize: copied.fullSize, segno: e.segno ?? 0, nBlocks: copied.nBlocks,
        nHeaders: copied.nHeaders, hdrCrc: copied.hdrCrc,
      };
      blob = copied.headerBlob ? Buffer.from(copied.headerBlob.buffer, copied.headerBlob.byteOffset, copied.headerBlob.length) : undefined;
    } else {
      continue;
    }
    const r: BatchOutcome['results'][number] = { index: i, entry, staged: a.kind !== 'keep' };
    if (blob) {
      r.hdr = [hdrOff, blob.length];
      blobs.push(blob);
      hdrOff += blob.length;
    }
    out.results.push(r);
  }
  await guard.check();
  await writeFileAtomic(batchFile(input.fullDir, input.batchNo, 'hdr'), Buffer.concat(blobs), { sync: !input.noSync });
  await writeFileAtomic(done, JSON.stringify(out), { sync: !input.noSync });
  return { files: out.results.length, bytes: out.bytes };
}

/**
 * Stages the merged file list, header map and backup.control, records the commit, and applies it:
 * staged files over the FULL backup's, files the destination lacks removed, status MERGED.
 */
export async function commitMerge(input: { fullDir: string; destId: string; noSync: boolean }): Promise<{ dataBytes: number }> {
  const ctx = Context.current();
  const sync = !input.noSync;
  const now = await readBackupControl({ backupDir: input.fullDir });
  if (now.status === 'MERGED') return { dataBytes: now.dataBytes ?? 0 };
  let commit = await readJson<CommitRecord>(commitPath(input.fullDir));
  if (!commit || commit.destId !== input.destId) {
    const plan = (await readJson<MergePlanFile>(planPath(input.fullDir)))!;
    const dest = plan.members[plan.members.length - 1];
    const merged: (FileEntry | undefined)[] = dest.entries.map((e, i) => {
      const a = plan.actions[i];
      if (a.kind === 'dir') return { ...e, size: 0, crc: 0, compressAlg: 'none' };
      if (a.kind === 'empty') return { ...e, size: 0, crc: 0, fullSize: 0, nHeaders: 0 };
      return undefined;
    });
    const staged: string[] = [];
    const stage = stageDir(input.fullDir);
    await fs.mkdir(stage, { recursive: true, mode: 0o700 });
    const mapFile = path.join(stage, 'page_header_map');
    const map = await fs.open(mapFile, 'w', 0o600);
    let mapOff = 0;
    try {
      for (let b = 0; b < plan.batches.length; b++) {
        const r = await readJson<BatchOutcome>(batchFile(input.fullDir, b, 'json'));
        if (!r) throw new Error(`merge batch ${b} of backup ${input.destId} has no result: it did not finish`);
        const hdr = await fs.readFile(batchFile(input.fullDir, b, 'hdr'));
        for (const x of r.results) {
          const e = { ...x.entry };
          delete e.hdrOff;
          delete e.hdrSize;
          if (x.hdr) {
            e.hdrOff = mapOff + x.hdr[0];
            e.hdrSize = x.hdr[1];
          }
          merged[x.index] = e;
          if (x.staged) staged.push(relInBackup(e));
        }
        await map.write(hdr);
        mapOff += hdr.length;
        ctx.heartbeat({ assembled: b });
      }
      if (sync) await map.sync();
    } finally {
      await map.close();
    }
    const missing = merged.findIndex((e) => !e);
    if (missing >= 0) throw new Error(`merge of backup ${input.destId} has no result for "${dest.entries[missing].path}"`);
    const entries = (merged as FileEntry[]).slice().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.externalDirNum - b.externalDirNum));
    const text = serializeBackupContent(entries);
    await writeFileAtomic(path.join(stage, 'backup_content.control'), text, { sync });
    const control = mergedControl(plan.members[0].control, dest.control, {
      ...contentSums(entries),
      contentCrc: backupContentCrc(text),
      mergeTime: plan.mergeTime,
      endTime: Math.floor(Date.now() / 1000),
      destId: input.destId,
    });
    if (sync) for (const d of new Set(staged.map((s) => path.dirname(path.join(stage, s))))) await fsyncDir(d);
    const keep = new Set<string>();
    for (const e of entries) {
      for (let p = relInBackup(e); p !== '.' && p !== ''; p = path.dirname(p)) keep.add(p);
    }
    keep.add('database');
    commit = {
      destId: input.destId,
      control: serializeBackupControl(control),
      keep: [...keep],
      staged,
      empty: entries.filter((e) => !isDirectoryEntry(e) && e.size === 0).map(relInBackup),
    };
    // The point of no return: from here a re-run applies this record, whatever it finds.
    await writeFileAtomic(commitPath(input.fullDir), JSON.stringify(commit), { sync });
  }
  await beating(() => applyCommit(input.fullDir, commit!, sync));
  return { dataBytes: parseBackupControl(commit.control, 'merged backup.control').dataBytes ?? 0 };
}

async function applyCommit(fullDir: string, commit: CommitRecord, sync: boolean): Promise<void> {
  const ctx = Context.current();
  const stage = stageDir(fullDir);
  const keep = new Set(commit.keep);
  let n = 0;
  const beat = () => {
    if (++n % 256 === 0) ctx.heartbeat({ applied: n });
  };
  const dirs = new Set<string>([fullDir]);
  for (const rel of commit.staged) {
    const from = path.join(stage, rel);
    const to = path.join(fullDir, rel);
    if (await exists(from)) {
      await fs.mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
      await fs.rename(from, to);
    } else if (!(await exists(to))) {
      throw new Error(`merged file "${rel}" is neither staged nor in place in "${fullDir}": the merge cannot be completed`);
    }
    dirs.add(path.dirname(to));
    beat();
  }
  for (const rel of commit.empty) await fs.rm(path.join(fullDir, rel), { force: true });
  for (const name of ['page_header_map', 'backup_content.control']) {
    if (await exists(path.join(stage, name))) await fs.rename(path.join(stage, name), path.join(fullDir, name));
  }
  // What the destination does not have goes: files first, then directories, deepest first.
  const doomedDirs: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const d of await fs.readdir(path.join(fullDir, rel), { withFileTypes: true }).catch(() => [])) {
      const child = path.join(rel, d.name);
      if (d.isDirectory()) {
        await walk(child);
        if (!keep.has(child)) doomedDirs.push(child);
      } else if (!keep.has(child)) {
        await fs.rm(path.join(fullDir, child), { force: true });
      }
      beat();
    }
  };
  await walk('database');
  await walk('external_directories');
  for (const d of doomedDirs) await fs.rm(path.join(fullDir, d), { recursive: true, force: true });
  if (sync) for (const d of dirs) await fsyncDir(d).catch(() => undefined);
  await writeFileAtomic(catalogPaths.backupControl(fullDir), commit.control, { sync });
  await fs.rm(stage, { recursive: true, force: true });
}

/**
 * Deletes the merged incrementals (oldest first, never a FULL backup: after the rename the merged
 * backup lives where the destination did), gives the FULL backup the destination's directory and
 * ID, status OK, and drops the merge's state.
 */
export async function finishMerge(input: {
  backupPath: string;
  instance: string;
  fullDir: string;
  destId: string;
  incrementals: { id: string; dir: string }[];
  noSync: boolean;
}): Promise<{ deleted: { id: string; recoveryTime?: number }[]; renamedFrom?: string }> {
  const destDir = catalogPaths.backupDir(input.backupPath, input.instance, input.destId as Parameters<typeof catalogPaths.backupDir>[2]);
  const destTime = backupIdToTime(input.destId)!;
  const deleted: { id: string; recoveryTime?: number }[] = [];
  let renamedFrom: string | undefined;
  const readOrNull = (dir: string) => readBackupControl({ backupDir: dir }).catch(() => null);
  if (input.fullDir !== destDir && (await exists(input.fullDir))) {
    const full = await readBackupControl({ backupDir: input.fullDir });
    if (full.status !== 'MERGED' || full.mergeDestId !== input.destId) {
      throw refuse(`backup in "${input.fullDir}" has status ${full.status}${full.mergeDestId ? ` (merge into ${full.mergeDestId})` : ''}: the merge into ${input.destId} is not committed`);
    }
    for (const inc of input.incrementals) {
      if (!(await exists(inc.dir))) continue;
      const c = await readOrNull(inc.dir);
      // Never a FULL backup, nor a merged one: only incrementals (or the remains of a half-deleted one).
      if (c && (c.backupMode === 'FULL' || c.mergeDestId)) continue;
      await beating(() => deleteBackupFiles({ backupDir: inc.dir }));
      deleted.push({ id: inc.id, ...(c?.recoveryTime ? { recoveryTime: c.recoveryTime } : {}) });
    }
    if (await exists(destDir)) throw new Error(`cannot give the merged backup its name: "${destDir}" still exists`);
    await fs.rename(input.fullDir, destDir);
    renamedFrom = full.startTime.toString(36).toUpperCase();
  }
  const merged = await readOrNull(destDir);
  if (!merged) throw refuse(`the merged backup ${input.destId} is missing: neither "${input.fullDir}" nor "${destDir}" holds it`);
  if (merged.status === 'OK' && merged.startTime === destTime && !merged.mergeDestId) return { deleted, renamedFrom };
  if (merged.status !== 'MERGED' || merged.mergeDestId !== input.destId) {
    throw refuse(`backup in "${destDir}" has status ${merged.status}: it is not the merged backup of ${input.destId}`);
  }
  renamedFrom ??= merged.startTime.toString(36).toUpperCase();
  // The state of the FULL backup's own copy and of the merge describe files that are gone.
  await fs.rm(catalogPaths.stateDir(destDir), { recursive: true, force: true });
  await writeBackupControl({ backupDir: destDir, control: finishedControl(merged, destTime), noSync: input.noSync });
  return { deleted, renamedFrom };
}
