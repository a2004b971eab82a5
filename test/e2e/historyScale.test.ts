/**
 * Scale of history (issue 4): a backup's workflow history must not grow with the number of files
 * in a way that reaches Temporal's 50K-event limit at 100,000 relation files, and the file list
 * must not travel through workflow payloads. The full-size run (100k files, minutes) is
 * test/scale/manyRelations.ts; this test makes the same argument at CI size by scaling:
 *
 *   one cluster, backed up twice by the real CLI in embedded mode: first as initdb made it
 *   (~1,000 files), then with EXTRA_TABLES more tables (+2 relation files each). Every run of every
 *   workflow either backup started (continue-as-new runs and child workflows included) is read
 *   from the embedded Temporal server. From the two backups:
 *
 *   - growth = (events of the big backup's largest run − the small one's) / (files added): events
 *     per file. Projected to 100,000 files it must stay under a tenth of the limit. One activity per
 *     file (≥ 3 events a file) would project to 300,000; one per 1,000-file batch to about 600.
 *   - the file list as bare JSON strings (what any payload carrying it would hold at least) is
 *     hundreds of KB: the largest event must be far below it, and the history's bytes must grow by
 *     far less than the list's bytes grow (a list split over per-batch payloads shows up there).
 *   - the backups hold every relation file on disk (backup_content.control against a directory
 *     walk), and validate says the big one is valid.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { isDirectoryEntry, parseBackupContent } from '../../core/backupContent';
import { cliOk } from '../helpers/cli';
import { createTables, describeRun, isRelationPath, openHistoryReader, relationFilesOnDisk, type HistoryReader, type RunHistory } from '../helpers/history';
import { createCluster, type PgCluster } from '../helpers/pgCluster';

jest.setTimeout(15 * 60_000);

/** Tables added between the two backups: 2 relation files each (~13 s to create on 2 cores). */
const EXTRA_TABLES = 10_000;
const TEMPORAL_EVENT_LIMIT = 50_000;
/** The scale the property is about: files of a cluster with 100,000 relation files. */
const TARGET_FILES = 100_000;
/** What the projection must stay under: a tenth of the limit. */
const PROJECTED_EVENTS_MAX = TEMPORAL_EVENT_LIMIT / 10;
/** The largest event must be at most this fraction of the big backup's file list. */
const EVENT_TO_LIST_MAX = 1 / 20;
/**
 * History bytes may grow by at most this fraction of what the file list grows by: a list carried in
 * payloads, whole or in pieces, makes the history grow by at least the list's own bytes.
 */
const HISTORY_TO_LIST_GROWTH_MAX = 1 / 2;

let cluster: PgCluster;
let root: string;
let backupPath: string;
let env: Record<string, string>;
let reader: HistoryReader | undefined;

beforeAll(async () => {
  cluster = await createCluster({ conf: { autovacuum: 'off' } });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hist-'));
  backupPath = path.join(root, 'catalog');
  env = { ...cluster.env, BACKUP_PATH: backupPath };
  await cliOk(['init'], env);
  await cliOk(['add-instance', '--instance', 's', '-D', cluster.pgdata], env);
  // Held for the whole test: the CLI commands reuse this server, and its histories stay readable.
  reader = await openHistoryReader(backupPath);
});

afterAll(async () => {
  await reader?.close();
  await cluster?.destroy();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

interface Measured {
  id: string;
  seconds: number;
  runs: RunHistory[];
  /** Files (not directories) in backup_content.control. */
  files: number;
  /** Relation files in backup_content.control, and on disk right after the backup. */
  relationFiles: string[];
  relationFilesOnDisk: string[];
  /** The backup's file list (every path of backup_content.control) as JSON strings. */
  fileListBytes: number;
  maxRunEvents: number;
  historyBytes: number;
  largestEventBytes: number;
}

const runKey = (wf: WorkflowExecutionInfo) => `${wf.workflowId}/${wf.runId}`;

/** Runs a FULL backup and reads the history of every workflow run it made. */
async function measureBackup(label: string): Promise<Measured> {
  const before = new Set((await reader!.listRuns()).map(runKey));
  const t0 = Date.now();
  const out = (await cliOk(['backup', '--instance', 's', '-b', 'FULL', '--stream', '-j', '2'], env)).stderr;
  const seconds = (Date.now() - t0) / 1000;
  const id = /INFO: Backup (\w+) completed/.exec(out)?.[1];
  if (!id) throw new Error(`no "Backup ... completed" in the backup's output:\n${out}`);

  // Visibility lags a closed run by a moment: wait until the backup's run is listed, all closed.
  let mine: WorkflowExecutionInfo[] = [];
  for (const deadline = Date.now() + 30_000; ;) {
    mine = (await reader!.listRuns()).filter((wf) => !before.has(runKey(wf)));
    const settled = mine.some((wf) => wf.type === 'backupWorkflow') && mine.every((wf) => wf.status.name !== 'RUNNING');
    if (settled) break;
    if (Date.now() > deadline) {
      throw new Error(`the ${label} backup's workflow runs are not listed as closed after 30 s: ${mine.map((wf) => `${runKey(wf)} ${wf.type} ${wf.status.name}`).join(', ') || 'none'}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const runs = await Promise.all(mine.map((wf) => reader!.readRun(wf)));

  const content = parseBackupContent(fs.readFileSync(path.join(backupPath, 'backups', 's', id, 'backup_content.control'), 'utf8'), 'backup_content.control');
  return {
    id,
    seconds,
    runs,
    files: content.filter((e) => !isDirectoryEntry(e)).length,
    relationFiles: content.filter((e) => e.externalDirNum === 0 && !isDirectoryEntry(e) && isRelationPath(e.path)).map((e) => e.path).sort(),
    relationFilesOnDisk: relationFilesOnDisk(cluster.pgdata),
    fileListBytes: content.reduce((s, e) => s + Buffer.byteLength(JSON.stringify(e.path)), 0),
    maxRunEvents: Math.max(...runs.map((r) => r.events)),
    historyBytes: runs.reduce((s, r) => s + r.historyBytes, 0),
    largestEventBytes: Math.max(...runs.map((r) => r.largestEventBytes)),
  };
}

function report(label: string, m: Measured): void {
  console.log(
    [
      `${label} backup ${m.id}: ${m.files} files (${m.relationFiles.length} relation files; ${m.relationFilesOnDisk.length} on disk), ` +
        `file list ${m.fileListBytes} bytes as JSON strings, backup took ${m.seconds.toFixed(1)} s; ` +
        `${m.runs.length} workflow run(s): largest ${m.maxRunEvents} events, ${m.historyBytes} bytes of history, largest event ${m.largestEventBytes} bytes`,
      ...m.runs.map((r) => `  ${describeRun(r)}`),
    ].join('\n'),
  );
}

/** Fails with a sentence that says what was measured and what it means. */
function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

function expectAllRelationFiles(label: string, m: Measured): void {
  const inBackup = new Set(m.relationFiles);
  const onDisk = new Set(m.relationFilesOnDisk);
  const missing = m.relationFilesOnDisk.filter((p) => !inBackup.has(p));
  const extra = m.relationFiles.filter((p) => !onDisk.has(p));
  check(
    missing.length === 0 && extra.length === 0,
    `${label} backup ${m.id}: backup_content.control lists ${m.relationFiles.length} relation files, the disk has ${m.relationFilesOnDisk.length}; ` +
      `missing from the backup: ${missing.slice(0, 5).join(', ') || 'none'}${missing.length > 5 ? ` (+${missing.length - 5})` : ''}; ` +
      `not on disk: ${extra.slice(0, 5).join(', ') || 'none'}${extra.length > 5 ? ` (+${extra.length - 5})` : ''}`,
  );
}

async function expectValid(id: string): Promise<void> {
  const v = await cliOk(['validate', '--instance', 's', '-i', id], env);
  expect(v.stderr).toMatch(new RegExp(`INFO: Backup ${id} is valid`));
  const show = JSON.parse((await cliOk(['show', '--instance', 's', '--format=json'], env)).stdout);
  expect(show[0].backups.find((b: { id: string }) => b.id === id)?.status).toBe('OK');
}

test(`a backup's workflow history does not grow with the files: ${EXTRA_TABLES} more tables, projected to ${TARGET_FILES} files`, async () => {
  const t0 = Date.now();
  const small = await measureBackup('small');
  report('small', small);

  const c0 = Date.now();
  await createTables(cluster, 1, EXTRA_TABLES);
  console.log(`created ${EXTRA_TABLES} tables with a primary key and one row in ${((Date.now() - c0) / 1000).toFixed(1)} s`);

  const big = await measureBackup('big');
  report('big', big);

  // The clusters really differ by the tables made, and each backup holds every relation file.
  const added = big.relationFilesOnDisk.length - small.relationFilesOnDisk.length;
  check(added >= 2 * EXTRA_TABLES, `expected at least ${2 * EXTRA_TABLES} more relation files on disk after creating ${EXTRA_TABLES} tables, found ${added} more`);
  expectAllRelationFiles('small', small);
  expectAllRelationFiles('big', big);

  // Events: the growth per file, projected to TARGET_FILES.
  const addedFiles = big.files - small.files;
  const perFile = (big.maxRunEvents - small.maxRunEvents) / addedFiles;
  const projected = Math.ceil(big.maxRunEvents + Math.max(0, perFile) * (TARGET_FILES - big.files));
  console.log(
    `history scale: ${small.files} → ${big.files} files (+${addedFiles}); largest run ${small.maxRunEvents} → ${big.maxRunEvents} events ` +
      `(${(perFile * 1000).toFixed(2)} events per 1,000 files); projected at ${TARGET_FILES} files: ${projected} events ` +
      `(bound ${PROJECTED_EVENTS_MAX}, Temporal's limit ${TEMPORAL_EVENT_LIMIT})`,
  );
  for (const r of [...small.runs, ...big.runs]) {
    check(r.status === 'COMPLETED', `workflow run ${r.workflowId}/${r.runId} ended ${r.status}, not COMPLETED`);
  }
  check(
    projected < PROJECTED_EVENTS_MAX,
    `a backup run's history grows by ${(perFile * 1000).toFixed(2)} events per 1,000 files (${small.maxRunEvents} events at ${small.files} files, ` +
      `${big.maxRunEvents} at ${big.files}): at ${TARGET_FILES} files that is ${projected} events, over ${PROJECTED_EVENTS_MAX} ` +
      `(a tenth of Temporal's ${TEMPORAL_EVENT_LIMIT}-event limit)`,
  );

  // Payloads: the file list does not travel through history, whole or in pieces.
  const listGrowth = big.fileListBytes - small.fileListBytes;
  const historyGrowth = big.historyBytes - small.historyBytes;
  console.log(
    `history payloads: largest event ${big.largestEventBytes} bytes vs a file list of ${big.fileListBytes} bytes; ` +
      `history grew ${historyGrowth} bytes while the file list grew ${listGrowth} bytes`,
  );
  check(
    big.largestEventBytes < big.fileListBytes * EVENT_TO_LIST_MAX,
    `the big backup's largest history event is ${big.largestEventBytes} bytes, not far below its file list (${big.fileListBytes} bytes ` +
      `as JSON strings; bound ${Math.floor(big.fileListBytes * EVENT_TO_LIST_MAX)}): does the file list travel through a payload?`,
  );
  check(
    historyGrowth < listGrowth * HISTORY_TO_LIST_GROWTH_MAX,
    `the history grew by ${historyGrowth} bytes from the small backup to the big one while the file list grew by ${listGrowth} bytes ` +
      `(bound ${Math.floor(listGrowth * HISTORY_TO_LIST_GROWTH_MAX)}): do file names travel through batch payloads?`,
  );

  const v0 = Date.now();
  await expectValid(big.id);
  console.log(`validate: backup ${big.id} of ${big.files} files is valid (${((Date.now() - v0) / 1000).toFixed(1)} s)`);
  console.log(`history scale test: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});
