/**
 * Benchmark: gs_probackup (embedded Temporal) against `cp -a`, pg_basebackup and pgBackRest, on one
 * PostgreSQL 15 cluster filled by `pgbench -i -s N`. Run it through `npm run bench` (bench/run.sh),
 * which installs what is missing, builds, and runs this file as the unprivileged `postgres` user.
 *
 * What one invocation does:
 *   1. initdb -k a throw-away cluster in a temp dir (unix socket only, in that dir), pgbench -i, CHECKPOINT.
 *   2. Prepares the tools (untimed): our catalog (init, add-instance), a pgBackRest stanza, and the
 *      catalog's embedded Temporal dev server, which this process keeps running (see holdServer()).
 *   3. R runs; each run times every variant once, in a fixed order, so that slow drifts of the machine
 *      (page cache, other jobs) hit all tools alike. Each output is measured (du -sb) and deleted at once.
 *   4. Prints one table of medians and writes all raw numbers to a JSON file.
 *
 * Every timed command runs under GNU time (`%e %U %S %M`): wall, user+sys CPU of the command and the
 * children it waited for, and the peak RSS of its largest process. Work done by other long-lived
 * processes is read from /proc before and after: the PostgreSQL server (pg_basebackup makes the
 * server read and send the files, so its client's CPU alone would flatter it) and, for our tool, the
 * Temporal dev server. For our tool the workflow history is then fetched and split into time when
 * at least one activity ran and time when none did (orchestration).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { acquireEmbeddedServer, freePort, type EmbeddedServerLease } from '../client/temporal/embeddedServer';
import { pathKey, workflowIds } from '../core/workflowIds';

const REPO = path.resolve(__dirname, '..', '..'); // dist/bench/bench.js -> repository root
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const GNU_TIME = '/usr/bin/time';
const INSTANCE = 'bench';
const STANZA = 'bench';
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  scale: number;
  runs: number;
  jobs: number;
  /** Variant name prefixes to run (BENCH_ONLY=cp,pgbackrest,...); all when empty. */
  only: string[];
  workDir: string;
  resultFile: string;
}

function usage(): never {
  process.stderr.write(
    'usage: npm run bench -- [--scale N] [--runs R] [-j J] [--only cp,pg_basebackup,pgbackrest,gs_probackup]\n' +
      '  env: BENCH_SCALE, BENCH_RUNS, BENCH_JOBS, BENCH_ONLY, BENCH_TMPDIR (where the cluster and outputs go)\n',
  );
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const env = process.env;
  const o = {
    scale: Number(env.BENCH_SCALE ?? 100),
    runs: Number(env.BENCH_RUNS ?? 3),
    jobs: Number(env.BENCH_JOBS ?? 2),
    only: (env.BENCH_ONLY ?? '').split(',').filter(Boolean),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i] ?? usage();
    if (flag === '--scale' || flag === '-s') o.scale = Number(value());
    else if (flag === '--runs' || flag === '-r') o.runs = Number(value());
    else if (flag === '-j' || flag === '--jobs' || flag === '--threads') o.jobs = Number(value());
    else if (flag === '--only') o.only = value().split(',').filter(Boolean);
    else if (/^-j\d+$/.test(a)) o.jobs = Number(a.slice(2));
    else usage();
  }
  for (const [k, v] of Object.entries({ scale: o.scale, runs: o.runs, jobs: o.jobs })) {
    if (!Number.isInteger(v) || v < 1) {
      process.stderr.write(`bench: --${k} must be a positive integer\n`);
      usage();
    }
  }
  const base = env.BENCH_WORKDIR;
  const workDir = base ? base : fs.mkdtempSync(path.join(env.BENCH_TMPDIR ?? os.tmpdir(), 'gs_probackup-bench.'));
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  return { ...o, workDir, resultFile: env.BENCH_RESULT_FILE ?? path.join(REPO, 'bench', 'results', 'latest.json') };
}

// ---------------------------------------------------------------------------------------------
// Small process helpers

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Runs an untimed command; throws with its output when it fails. */
function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`.trimEnd());
  }
  return r.stdout;
}

function duBytes(p: string): number {
  return Number(sh('du', ['-sb', p]).split(/\s+/)[0]);
}

function freeBytes(p: string): number {
  const s = fs.statfsSync(p);
  return s.bavail * s.bsize;
}

function rmrf(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

/** utime+stime (+ reaped children's) of a pid in seconds, from /proc/<pid>/stat; undefined when gone. */
function procCpuSeconds(pid: number, withChildren = true): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  return ticks / CLK_TCK;
}

/** The host's CPU time counters (/proc/stat's first line): total and stolen by the hypervisor. */
function hostCpuTicks(): { total: number; steal: number } | undefined {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest times are inside user and nice)
    return { total: f.slice(0, 8).reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return undefined;
  }
}

/**
 * CPU used so far by the whole PostgreSQL server: the postmaster, the backends it has reaped
 * (cutime/cstime), and its live children. A difference of two readings is the server's share of a
 * timed command (a walsender for pg_basebackup, the backup session, WAL senders of the others).
 */
function postgresCpuSeconds(postmasterPid: number): number {
  let total = procCpuSeconds(postmasterPid) ?? 0;
  try {
    const children = fs.readFileSync(`/proc/${postmasterPid}/task/${postmasterPid}/children`, 'utf8').trim().split(/\s+/);
    for (const c of children) if (c) total += procCpuSeconds(Number(c), false) ?? 0;
  } catch {
    /* no children file: count the postmaster only */
  }
  return total;
}

/** The child of the timed command, so that an interrupt can stop it before cleaning up. */
let currentChild: ReturnType<typeof spawn> | undefined;

interface Timing {
  /** Wall-clock instants (ms since the epoch) around the command, to place it against workflow events. */
  startedAtMs: number;
  endedAtMs: number;
  wallS: number;
  cpuS: number;
  userS: number;
  sysS: number;
  peakRssKb: number;
}

/** Runs `cmd` under GNU time; its output goes to `logFile` (shown when it fails). */
async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<Timing> {
  const timeFile = `${logFile}.time`;
  const out = fs.openSync(logFile, 'w');
  // Own process group, so that an interrupt can stop the tool together with GNU time.
  const child = spawn(GNU_TIME, ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], { stdio: ['ignore', out, out], env, detached: true });
  fs.closeSync(out);
  currentChild = child;
  // For bench/run.sh: if this process is killed outright, it stops this group from there.
  fs.writeFileSync(path.join(path.dirname(path.dirname(logFile)), 'timed.pgid'), `${child.pid}\n`);
  const startedAtMs = Date.now();
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c) => resolve(c));
  });
  currentChild = undefined;
  const endedAtMs = Date.now();
  if (code !== 0) {
    const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
    throw new Error(`timed command failed (exit ${code}): ${cmd} ${args.join(' ')}\n${tail}`);
  }
  const [e, u, s, m] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
  return { startedAtMs, endedAtMs, wallS: e, userS: u, sysS: s, cpuS: +(u + s).toFixed(2), peakRssKb: m };
}

// ---------------------------------------------------------------------------------------------
// The cluster

interface Cluster {
  pgdata: string;
  sockDir: string;
  port: number;
  env: NodeJS.ProcessEnv;
  postmasterPid(): number;
}

async function createCluster(work: string, scale: number): Promise<Cluster> {
  const pgdata = path.join(work, 'pgdata');
  const sockDir = path.join(work, 'sock');
  fs.mkdirSync(sockDir, { mode: 0o700 });
  const port = await freePort();
  log(`initdb -k ${pgdata} (port ${port}, socket ${sockDir})`);
  sh(path.join(PG_BIN, 'initdb'), ['-k', '-U', 'postgres', '-A', 'trust', '-D', pgdata]);
  // Unix socket in our own directory only: nothing else on the machine can collide with it.
  fs.appendFileSync(
    path.join(pgdata, 'postgresql.conf'),
    [
      '',
      '# gs_probackup bench',
      `port = ${port}`,
      `unix_socket_directories = '${sockDir}'`,
      "listen_addresses = ''",
      'wal_level = replica',
      'max_wal_senders = 10',
      'max_replication_slots = 10',
      'max_wal_size = 4GB', // no forced checkpoints while pgbench -i loads
      '',
    ].join('\n'),
  );
  sh(path.join(PG_BIN, 'pg_ctl'), ['-D', pgdata, '-l', path.join(work, 'postgres.log'), '-w', '-t', '120', 'start']);
  const env: NodeJS.ProcessEnv = { ...process.env, PGHOST: sockDir, PGPORT: String(port), PGUSER: 'postgres', PGDATABASE: 'postgres' };
  delete env.PGPASSWORD;
  log(`pgbench -i -s ${scale}`);
  sh(path.join(PG_BIN, 'pgbench'), ['-i', '-q', '-s', String(scale)], env);
  sh(path.join(PG_BIN, 'psql'), ['-X', '-q', '-c', 'CHECKPOINT'], env);
  return {
    pgdata,
    sockDir,
    port,
    env,
    postmasterPid: () => Number(fs.readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]),
  };
}

function stopCluster(pgdata: string): void {
  if (!fs.existsSync(path.join(pgdata, 'postmaster.pid'))) return;
  const r = spawnSync(path.join(PG_BIN, 'pg_ctl'), ['-D', pgdata, '-m', 'fast', '-w', '-t', '60', 'stop'], { encoding: 'utf8' });
  if (r.status !== 0) spawnSync(path.join(PG_BIN, 'pg_ctl'), ['-D', pgdata, '-m', 'immediate', '-w', 'stop']);
}

// ---------------------------------------------------------------------------------------------
// Our tool: the embedded Temporal server and the workflow history

/**
 * In embedded mode every CLI call registers as a user of the catalog's Temporal dev server and the
 * last user to leave stops it (client/temporal/embeddedServer.ts), so back-to-back CLI calls would
 * each pay the server's start-up. Like a `gs_probackup worker` would, this process registers once as
 * a user for the whole benchmark, so the server starts once, untimed, and every timed CLI call
 * reuses it. Unlike a worker, it polls no task queue: all activities still run in the timed CLI.
 */
async function holdServer(catalog: string): Promise<{ lease: EmbeddedServerLease; startS: number }> {
  const t0 = process.hrtime.bigint();
  const lease = await acquireEmbeddedServer({ backupPath: catalog, role: 'cli' });
  return { lease, startS: Number(process.hrtime.bigint() - t0) / 1e9 };
}

interface Orchestration {
  workflowId: string;
  /** Server time of workflow start and close (ms since the epoch). */
  workflowStartMs: number;
  workflowCloseMs: number;
  events: number;
  activities: number;
  /** Workflow start to close, by the server's clock. */
  workflowWallS: number;
  /** Union of [activity started, activity closed] intervals. */
  activityBusyS: number;
  /** Workflow time when no activity ran: workflow tasks, queue waits, timers, local activities. */
  workflowGapS: number;
  /** Sum over activities of scheduled -> started (time waiting for a worker slot or a poll). */
  scheduleToStartS: number;
  /** The longest stretch with no activity running, and the activities around it (for diagnosis). */
  longestGap: { s: number; after: string; before: string };
}

function tsMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return NaN;
  return Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6;
}

/** Reads the latest run of a workflow and splits its time into activity work and the rest. */
async function orchestration(client: Client, workflowId: string): Promise<Orchestration> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const id = (v: unknown) => String(v);
  const scheduled = new Map<string, number>();
  const names = new Map<string, string>(); // activity type by scheduled event id
  const started = new Map<string, number>(); // by scheduled event id
  const intervals: [number, number, string][] = [];
  let wfStart = NaN;
  let wfEnd = NaN;
  let scheduleToStart = 0;
  let activities = 0;
  for (const e of events) {
    const t = tsMs(e.eventTime);
    if (e.workflowExecutionStartedEventAttributes) wfStart = t;
    if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes) wfEnd = t;
    if (e.activityTaskScheduledEventAttributes) {
      scheduled.set(id(e.eventId), t);
      names.set(id(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      activities++;
    }
    // With a retry policy the server writes ActivityTaskStarted only when the attempt closes, but
    // stamps it with the time the worker picked the task up, so the interval below is the real one.
    const st = e.activityTaskStartedEventAttributes;
    if (st) {
      started.set(id(st.scheduledEventId), t);
      scheduleToStart += t - (scheduled.get(id(st.scheduledEventId)) ?? t);
    }
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (closed) {
      const s = started.get(id(closed.scheduledEventId));
      if (s !== undefined) intervals.push([s, t, names.get(id(closed.scheduledEventId)) ?? '?']);
    }
  }
  // Union of possibly overlapping intervals (activities run in parallel with -j).
  intervals.sort((a, b) => a[0] - b[0]);
  let busy = 0;
  let curS = -Infinity;
  let curE = -Infinity;
  let curName = 'workflow start';
  const longest = { ms: 0, after: '', before: '' };
  const gap = (from: number, to: number, after: string, before: string) => {
    if (to - from > longest.ms) Object.assign(longest, { ms: to - from, after, before });
  };
  for (const [s, e, name] of intervals) {
    if (s > curE) {
      if (curE > curS) busy += curE - curS;
      gap(Number.isFinite(curE) ? curE : wfStart, s, curName, name);
      curS = s;
      curE = e;
      curName = name;
    } else if (e > curE) {
      curE = e;
      curName = name;
    }
  }
  if (curE > curS) busy += curE - curS;
  gap(Number.isFinite(curE) ? curE : wfStart, wfEnd, curName, 'workflow close');
  const wall = wfEnd - wfStart;
  return {
    workflowId,
    workflowStartMs: wfStart,
    workflowCloseMs: wfEnd,
    events: events.length,
    activities,
    workflowWallS: +(wall / 1000).toFixed(3),
    activityBusyS: +(busy / 1000).toFixed(3),
    workflowGapS: +((wall - busy) / 1000).toFixed(3),
    scheduleToStartS: +(scheduleToStart / 1000).toFixed(3),
    longestGap: { s: +(longest.ms / 1000).toFixed(3), after: longest.after, before: longest.before },
  };
}

// ---------------------------------------------------------------------------------------------
// Variants

interface Measurement extends Timing {
  run: number;
  /** Bytes of the output (backup set, copy or restored directory). */
  bytes: number;
  /** CPU of the PostgreSQL server during the command. */
  pgCpuS: number;
  /** CPU of the embedded Temporal dev server during the command (our tool only). */
  temporalCpuS?: number;
  /** Share of the host's CPU time the hypervisor gave to others during the command (a noisy host). */
  stealPct?: number;
  backupId?: string;
  orchestration?: Orchestration;
  /** CLI wall minus the activities' busy time, as a share of the CLI wall (our tool only). */
  orchestrationPct?: number;
  /** From the CLI's start to the workflow's start: process start, module and bundle load, connection, checks. */
  beforeWorkflowS?: number;
  /** From the workflow's close to the CLI's exit: last progress query, worker shutdown, exit. */
  afterWorkflowS?: number;
}

interface Variant {
  name: string;
  tool: 'cp' | 'pg_basebackup' | 'pgbackrest' | 'gs_probackup';
  op: 'copy' | 'backup' | 'restore';
  compression: 'none' | 'gz1' | 'zlib1';
  /** pgBackRest variant of the same operation and compression, for the ratio column. */
  reference?: string;
}

const VARIANTS: Variant[] = [
  { name: 'cp -a', tool: 'cp', op: 'copy', compression: 'none', reference: 'pgbackrest backup' },
  // The other tools make their output durable (fsync); this is the floor with that included.
  { name: 'cp -a && sync', tool: 'cp', op: 'copy', compression: 'none', reference: 'pgbackrest backup' },
  { name: 'pg_basebackup -Fp -X stream', tool: 'pg_basebackup', op: 'backup', compression: 'none', reference: 'pgbackrest backup' },
  { name: 'pgbackrest backup', tool: 'pgbackrest', op: 'backup', compression: 'none' },
  { name: 'pgbackrest restore', tool: 'pgbackrest', op: 'restore', compression: 'none' },
  { name: 'pgbackrest backup gz1', tool: 'pgbackrest', op: 'backup', compression: 'gz1' },
  { name: 'pgbackrest restore gz1', tool: 'pgbackrest', op: 'restore', compression: 'gz1' },
  { name: 'gs_probackup backup', tool: 'gs_probackup', op: 'backup', compression: 'none', reference: 'pgbackrest backup' },
  { name: 'gs_probackup restore', tool: 'gs_probackup', op: 'restore', compression: 'none', reference: 'pgbackrest restore' },
  { name: 'gs_probackup restore --no-validate', tool: 'gs_probackup', op: 'restore', compression: 'none', reference: 'pgbackrest restore' },
  { name: 'gs_probackup backup zlib1', tool: 'gs_probackup', op: 'backup', compression: 'zlib1', reference: 'pgbackrest backup gz1' },
  { name: 'gs_probackup restore zlib1', tool: 'gs_probackup', op: 'restore', compression: 'zlib1', reference: 'pgbackrest restore gz1' },
];

class Bench {
  readonly results = new Map<string, Measurement[]>(VARIANTS.map((v) => [v.name, []]));
  readonly out: string;
  readonly logs: string;
  readonly catalog: string;
  readonly pgbrDir: string;
  readonly pgbrConf: string;
  lease?: EmbeddedServerLease;
  serverStartS = 0;
  temporalClient?: Client;
  private temporalConnection?: Connection;

  constructor(readonly o: Options, readonly cluster: Cluster) {
    this.out = path.join(o.workDir, 'out');
    this.logs = path.join(o.workDir, 'logs');
    this.catalog = path.join(o.workDir, 'catalog');
    this.pgbrDir = path.join(o.workDir, 'pgbackrest');
    this.pgbrConf = path.join(this.pgbrDir, 'pgbackrest.conf');
    fs.mkdirSync(this.out);
    fs.mkdirSync(this.logs);
  }

  private selected(tool: string): boolean {
    return this.o.only.length === 0 || this.o.only.some((p) => tool.startsWith(p));
  }

  /** Untimed preparation of pgBackRest and our catalog. */
  async prepare(): Promise<void> {
    if (this.selected('pgbackrest')) {
      fs.mkdirSync(this.pgbrDir);
      // archive-check=n/archive-copy=n: the cluster archives nothing, so pgBackRest neither waits for
      // the backup's WAL to reach an archive nor copies it. Its backup set then holds no WAL (the
      // other tools' do, a few segments); everything else is its default behaviour.
      fs.writeFileSync(
        this.pgbrConf,
        [
          '[global]',
          `repo1-path=${path.join(this.pgbrDir, 'repo')}`,
          `lock-path=${path.join(this.pgbrDir, 'lock')}`,
          `log-path=${path.join(this.pgbrDir, 'log')}`,
          'log-level-console=warn',
          'log-level-file=off',
          'start-fast=y',
          'archive-check=n',
          'archive-copy=n',
          'backup-standby=n',
          '',
          `[${STANZA}]`,
          `pg1-path=${this.cluster.pgdata}`,
          `pg1-socket-path=${this.cluster.sockDir}`,
          `pg1-port=${this.cluster.port}`,
          '',
        ].join('\n'),
      );
    }
    if (this.selected('gs_probackup')) {
      const env = this.ourEnv();
      sh(path.join(REPO, 'bin', 'gs_probackup'), ['init', '-B', this.catalog], env);
      sh(path.join(REPO, 'bin', 'gs_probackup'), ['add-instance', '-B', this.catalog, '--instance', INSTANCE, '-D', this.cluster.pgdata], env);
      const held = await holdServer(this.catalog);
      this.lease = held.lease;
      this.serverStartS = held.startS;
      log(`embedded Temporal server pid ${held.lease.server.pid} at ${held.lease.address} (start-up took ${held.startS.toFixed(2)} s, not timed below)`);
      this.temporalConnection = await Connection.connect({ address: held.lease.address });
      this.temporalClient = new Client({ connection: this.temporalConnection, namespace: held.lease.namespace });
    }
  }

  /** Our CLI in embedded mode: no TEMPORAL_ADDRESS, connection to the cluster through PG* variables. */
  private ourEnv(): NodeJS.ProcessEnv {
    const env = { ...this.cluster.env };
    delete env.TEMPORAL_ADDRESS;
    delete env.BACKUP_PATH;
    return env;
  }

  private pgbr(args: string[]): [string, string[]] {
    return ['pgbackrest', [`--config=${this.pgbrConf}`, `--stanza=${STANZA}`, ...args]];
  }

  /** Refuses to start a step that could fill the disk: free space must exceed the data size + 20 %. */
  private checkSpace(): void {
    const need = this.dataBytes * 1.2 + 256 * 1024 * 1024;
    const free = freeBytes(this.o.workDir);
    if (free < need) {
      throw new Error(`only ${(free / 2 ** 30).toFixed(1)} GiB free under ${this.o.workDir}, need ${(need / 2 ** 30).toFixed(1)} GiB for the next step`);
    }
  }

  dataBytes = 0;

  /** One timed command with its side readings. */
  private async measure(v: Variant, run: number, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Measurement> {
    this.checkSpace();
    // Flush what earlier steps left dirty so their write-back is not billed to this command.
    sh('sync', []);
    const pm = this.cluster.postmasterPid();
    const temporalPid = v.tool === 'gs_probackup' ? this.lease?.server.pid : undefined;
    const pg0 = postgresCpuSeconds(pm);
    const tp0 = temporalPid ? procCpuSeconds(temporalPid) : undefined;
    const host0 = hostCpuTicks();
    const t = await timed(cmd, args, env, path.join(this.logs, `${v.name.replace(/[^\w]+/g, '_')}.${run}.log`));
    const host1 = hostCpuTicks();
    const pg1 = postgresCpuSeconds(pm);
    const tp1 = temporalPid ? procCpuSeconds(temporalPid) : undefined;
    const m: Measurement = { run, ...t, bytes: 0, pgCpuS: +(pg1 - pg0).toFixed(2) };
    if (tp0 !== undefined && tp1 !== undefined) m.temporalCpuS = +(tp1 - tp0).toFixed(2);
    if (host0 && host1 && host1.total > host0.total) m.stealPct = +((100 * (host1.steal - host0.steal)) / (host1.total - host0.total)).toFixed(1);
    return m;
  }

  private record(v: Variant, m: Measurement): void {
    this.results.get(v.name)!.push(m);
    const extra = m.orchestrationPct !== undefined ? `, orchestration ${m.orchestrationPct.toFixed(1)} %, Temporal CPU ${m.temporalCpuS} s` : '';
    const steal = m.stealPct ? `, ${m.stealPct} % stolen` : '';
    log(`  ${v.name}: ${m.wallS} s wall, ${m.cpuS} s CPU, ${(m.peakRssKb / 1024).toFixed(0)} MB RSS, ${(m.bytes / 2 ** 20).toFixed(0)} MB${extra}${steal}`);
  }

  private async addOrchestration(m: Measurement, workflowId: string): Promise<void> {
    const orch = await orchestration(this.temporalClient!, workflowId);
    m.orchestration = orch;
    // Same machine, same clock: the CLI's start and exit against the server's event times.
    m.beforeWorkflowS = +((orch.workflowStartMs - m.startedAtMs) / 1000).toFixed(3);
    m.afterWorkflowS = +((m.endedAtMs - orch.workflowCloseMs) / 1000).toFixed(3);
    m.orchestrationPct = +((100 * (m.wallS - orch.activityBusyS)) / m.wallS).toFixed(1);
  }

  async runOnce(run: number): Promise<void> {
    const v = (name: string) => VARIANTS.find((x) => x.name === name)!;
    const J = String(this.o.jobs);
    const { pgdata, sockDir, port, env } = this.cluster;

    if (this.selected('cp')) {
      const target = path.join(this.out, 'cp');
      const m = await this.measure(v('cp -a'), run, 'cp', ['-a', pgdata, target], env);
      m.bytes = duBytes(target);
      rmrf(target);
      this.record(v('cp -a'), m);

      const ms = await this.measure(v('cp -a && sync'), run, 'sh', ['-c', 'cp -a "$0" "$1" && sync', pgdata, target], env);
      ms.bytes = duBytes(target);
      rmrf(target);
      this.record(v('cp -a && sync'), ms);
    }

    if (this.selected('pg_basebackup')) {
      const target = path.join(this.out, 'basebackup');
      const args = ['-D', target, '-X', 'stream', '-Fp', '-c', 'fast', '-h', sockDir, '-p', String(port), '-U', 'postgres'];
      const m = await this.measure(v('pg_basebackup -Fp -X stream'), run, path.join(PG_BIN, 'pg_basebackup'), args, env);
      m.bytes = duBytes(target);
      rmrf(target);
      this.record(v('pg_basebackup -Fp -X stream'), m);
    }

    if (this.selected('pgbackrest')) {
      for (const [suffix, compress] of [['', ['--compress-type=none']], [' gz1', ['--compress-type=gz', '--compress-level=1']]] as const) {
        // A fresh repository per backup: the backup is FULL and nothing older is reused or expired.
        const repo = path.join(this.pgbrDir, 'repo');
        rmrf(repo);
        sh(...this.pgbr(['stanza-create']));
        const bv = v(`pgbackrest backup${suffix}`);
        const b = await this.measure(bv, run, ...this.pgbr(['--type=full', `--process-max=${J}`, ...compress, 'backup']), env);
        b.bytes = duBytes(repo);
        this.record(bv, b);

        const target = path.join(this.out, 'pgbackrest-restore');
        fs.mkdirSync(target, { mode: 0o700 });
        const rv = v(`pgbackrest restore${suffix}`);
        const r = await this.measure(rv, run, ...this.pgbr([`--pg1-path=${target}`, `--process-max=${J}`, 'restore']), env);
        r.bytes = duBytes(target);
        rmrf(target);
        rmrf(repo);
        this.record(rv, r);
      }
    }

    if (this.selected('gs_probackup')) {
      const cli = path.join(REPO, 'bin', 'gs_probackup');
      const ourEnv = this.ourEnv();
      const backupsDir = path.join(this.catalog, 'backups', INSTANCE);
      const ids = () => new Set(fs.readdirSync(backupsDir).filter((n) => fs.statSync(path.join(backupsDir, n)).isDirectory()));
      for (const [suffix, compress] of [['', []], [' zlib1', ['--compress']]] as const) {
        const bv = v(`gs_probackup backup${suffix}`);
        const before = ids();
        const b = await this.measure(bv, run, cli, ['backup', '-B', this.catalog, '--instance', INSTANCE, '-b', 'FULL', '--stream', '-j', J, ...compress], ourEnv);
        const created = [...ids()].filter((n) => !before.has(n));
        if (created.length !== 1) throw new Error(`expected one new backup directory in ${backupsDir}, found ${created.join(', ') || 'none'}`);
        const id = created[0];
        b.backupId = id;
        b.bytes = duBytes(path.join(backupsDir, id));
        await this.addOrchestration(b, workflowIds.backup(INSTANCE));
        this.record(bv, b);

        const target = path.join(this.out, 'gs_probackup-restore');
        fs.mkdirSync(target, { mode: 0o700 });
        const rv = v(`gs_probackup restore${suffix}`);
        const r = await this.measure(rv, run, cli, ['restore', '-B', this.catalog, '--instance', INSTANCE, '-D', target, '-j', J, '-i', id], ourEnv);
        r.backupId = id;
        r.bytes = duBytes(target);
        await this.addOrchestration(r, workflowIds.restore(INSTANCE, pathKey(path.resolve(target))));
        rmrf(target);
        if (suffix === '') {
          // The same restore without the validation pass that our restore runs first by default
          // (pgBackRest's restore has none): the copy alone, beside pgBackRest's.
          fs.mkdirSync(target, { mode: 0o700 });
          const nv = v('gs_probackup restore --no-validate');
          const n = await this.measure(nv, run, cli, ['restore', '-B', this.catalog, '--instance', INSTANCE, '-D', target, '-j', J, '-i', id, '--no-validate'], ourEnv);
          n.backupId = id;
          n.bytes = duBytes(target);
          await this.addOrchestration(n, workflowIds.restore(INSTANCE, pathKey(path.resolve(target))));
          rmrf(target);
          this.record(nv, n);
        }
        // The catalog keeps no index of its backups: removing the directory forgets the backup.
        rmrf(path.join(backupsDir, id));
        this.record(rv, r);
      }
    }
  }

  async close(): Promise<void> {
    await this.temporalConnection?.close().catch(() => undefined);
    // Our registration was the last one: releasing it stops the embedded server.
    await this.lease?.release().catch((e) => log(`stopping the embedded Temporal server: ${(e as Error).message}`));
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

interface Summary {
  wallS: number;
  cpuS: number;
  pgCpuS: number;
  temporalCpuS?: number;
  stealPct?: number;
  peakRssMb: number;
  writtenMb: number;
  vsPgbackrest?: number;
  vsCp?: number;
  orchestrationPct?: number;
  beforeWorkflowS?: number;
  afterWorkflowS?: number;
  workflowGapS?: number;
  activityBusyS?: number;
  scheduleToStartS?: number;
  historyEvents?: number;
  activities?: number;
}

function summarize(results: Map<string, Measurement[]>): Map<string, Summary> {
  const sums = new Map<string, Summary>();
  const med = (ms: Measurement[], f: (m: Measurement) => number | undefined) => {
    const xs = ms.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
    return xs.length ? +median(xs).toFixed(3) : undefined;
  };
  for (const [name, ms] of results) {
    if (!ms.length) continue;
    sums.set(name, {
      wallS: med(ms, (m) => m.wallS)!,
      cpuS: med(ms, (m) => m.cpuS)!,
      pgCpuS: med(ms, (m) => m.pgCpuS)!,
      temporalCpuS: med(ms, (m) => m.temporalCpuS),
      stealPct: med(ms, (m) => m.stealPct),
      peakRssMb: +(med(ms, (m) => m.peakRssKb)! / 1024).toFixed(1),
      writtenMb: +(med(ms, (m) => m.bytes)! / 2 ** 20).toFixed(1),
      orchestrationPct: med(ms, (m) => m.orchestrationPct),
      beforeWorkflowS: med(ms, (m) => m.beforeWorkflowS),
      afterWorkflowS: med(ms, (m) => m.afterWorkflowS),
      workflowGapS: med(ms, (m) => m.orchestration?.workflowGapS),
      activityBusyS: med(ms, (m) => m.orchestration?.activityBusyS),
      scheduleToStartS: med(ms, (m) => m.orchestration?.scheduleToStartS),
      historyEvents: med(ms, (m) => m.orchestration?.events),
      activities: med(ms, (m) => m.orchestration?.activities),
    });
  }
  const cp = sums.get('cp -a');
  for (const v of VARIANTS) {
    const s = sums.get(v.name);
    if (!s) continue;
    const ref = sums.get(v.reference ?? v.name);
    if (ref && v.reference) s.vsPgbackrest = +(s.wallS / ref.wallS).toFixed(2);
    else if (v.tool === 'pgbackrest') s.vsPgbackrest = 1;
    if (cp) s.vsCp = +(s.wallS / cp.wallS).toFixed(2);
  }
  return sums;
}

function table(sums: Map<string, Summary>): string {
  const head = ['variant', 'wall s', 'CPU s', 'PG CPU s', 'Temporal CPU s', 'peak RSS MB', 'written MB', 'x pgBackRest', 'x cp -a', 'orch %', 'steal %'];
  const f = (x: number | undefined, d = 2) => (x === undefined ? '-' : x.toFixed(d));
  const rows = VARIANTS.filter((v) => sums.has(v.name)).map((v) => {
    const s = sums.get(v.name)!;
    return [v.name, f(s.wallS), f(s.cpuS), f(s.pgCpuS), f(s.temporalCpuS), f(s.peakRssMb, 0), f(s.writtenMb, 0), f(s.vsPgbackrest), f(s.vsCp), f(s.orchestrationPct, 1), f(s.stealPct, 1)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|') + '|';
  let text = [line(head), sep, ...rows.map(line)].join('\n') + '\n';

  const ours = VARIANTS.filter((v) => v.tool === 'gs_probackup' && sums.has(v.name));
  if (ours.length) {
    const h2 = ['gs_probackup variant', 'CLI wall s', 'before workflow s', 'activities busy s', 'workflow gaps s', 'after workflow s', 'sched->start s', 'activities', 'history events'];
    const r2 = ours.map((v) => {
      const s = sums.get(v.name)!;
      return [v.name, f(s.wallS), f(s.beforeWorkflowS), f(s.activityBusyS), f(s.workflowGapS), f(s.afterWorkflowS), f(s.scheduleToStartS), f(s.activities, 0), f(s.historyEvents, 0)];
    });
    const w2 = h2.map((h, i) => Math.max(h.length, ...r2.map((r) => r[i].length)));
    const l2 = (r: string[]) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(w2[i]) : c.padStart(w2[i]))).join(' | ') + ' |';
    const s2 = '|' + w2.map((w, i) => (i === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|') + '|';
    text += '\n' + [l2(h2), s2, ...r2.map(l2)].join('\n') + '\n';
  }
  return text;
}

const LEGEND = `
wall s, CPU s (user+sys of the command and its children), peak RSS (largest process) from GNU time; medians.
PG CPU s: the PostgreSQL server's CPU during the command. Temporal CPU s: the embedded dev server's.
written MB: du -sb of the output (backup set, repository, copy or restored directory).
steal %: share of the host's CPU time the hypervisor gave to other guests while the command ran (/proc/stat);
where it is high, the wall times of that run are not comparable.
x pgBackRest: wall / pgBackRest's wall for the same operation and compression (backup for cp and pg_basebackup).
orch %: share of our CLI's wall time when no activity was running, from the workflow history: before the
workflow starts (node start-up, module and workflow-bundle load, connection, checks), gaps inside it (workflow
tasks, queue waits between activities, and the local activities: catalog writes and single queries, counted as
orchestration) and after it closes (worker shutdown, exit). Second table: the parts.
`;

function readCommit(): string | undefined {
  // Read, not run: the commit the numbers belong to, when the checkout is a plain git directory.
  try {
    const head = fs.readFileSync(path.join(REPO, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    try {
      return fs.readFileSync(path.join(REPO, '.git', ref), 'utf8').trim();
    } catch {
      const packed = fs.readFileSync(path.join(REPO, '.git', 'packed-refs'), 'utf8');
      return packed.split('\n').find((l) => l.endsWith(` ${ref}`))?.split(' ')[0];
    }
  } catch {
    return undefined;
  }
}

function machineInfo() {
  const first = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim().split('\n')[0] : undefined;
  };
  return {
    hostname: os.hostname(),
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model,
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()} ${os.version()}`,
    node: process.version,
    postgres: first(path.join(PG_BIN, 'postgres'), ['--version']),
    pgbackrest: first('pgbackrest', ['version']),
    commit: readCommit(),
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  if (process.getuid?.() === 0) {
    process.stderr.write('bench: PostgreSQL refuses root; run "npm run bench" (bench/run.sh), which runs this as user postgres\n');
    process.exit(2);
  }
  const o = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  log(`scale ${o.scale}, ${o.runs} runs, -j ${o.jobs}, work dir ${o.workDir}`);

  let cluster: Cluster | undefined;
  let bench: Bench | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    if (currentChild?.pid) {
      // The timed command's process group: GNU time and the tool under it.
      try {
        process.kill(-currentChild.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    await bench?.close();
    stopCluster(path.join(o.workDir, 'pgdata'));
    if (!process.env.BENCH_KEEP) rmrf(o.workDir);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      interrupted = true;
      log(`${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    cluster = await createCluster(o.workDir, o.scale);
    const dataBytes = duBytes(cluster.pgdata);
    log(`data directory: ${(dataBytes / 2 ** 20).toFixed(0)} MB, ${(freeBytes(o.workDir) / 2 ** 30).toFixed(1)} GiB free`);
    bench = new Bench(o, cluster);
    bench.dataBytes = dataBytes;
    await bench.prepare();
    for (let run = 1; run <= o.runs; run++) {
      log(`run ${run}/${o.runs}`);
      await bench.runOnce(run);
    }
    const sums = summarize(bench.results);
    const report = {
      startedAt,
      finishedAt: new Date().toISOString(),
      scale: o.scale,
      runs: o.runs,
      jobs: o.jobs,
      dataDirectoryBytes: dataBytes,
      embeddedServerStartS: +bench.serverStartS.toFixed(3),
      machine: machineInfo(),
      notes: [
        'medians over runs; raw runs under "raw"',
        'pgBackRest runs with archive-check=n and archive-copy=n (no WAL archive): its backup holds no WAL; pg_basebackup and gs_probackup stream WAL into theirs',
        'gs_probackup restore validates the backup first (its default); pgBackRest restore does not run a separate validation',
        'cp -a does not fsync (a page-cache copy); "cp -a && sync" adds the flush; the other tools fsync by default',
        'the embedded Temporal server is started once before timing (embeddedServerStartS) and reused by every timed CLI call',
      ],
      summary: Object.fromEntries(sums),
      raw: Object.fromEntries(bench.results),
    };
    fs.mkdirSync(path.dirname(o.resultFile), { recursive: true });
    fs.writeFileSync(o.resultFile, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(
      `\nscale ${o.scale} (${(dataBytes / 2 ** 20).toFixed(0)} MB data), ${o.runs} runs, -j ${o.jobs}, ` +
        `${report.machine.nproc} CPUs, ${(report.machine.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM, ${os.release()}\n\n` +
        table(sums) +
        LEGEND +
        `\nembedded Temporal server start-up (paid by a CLI call when no server runs): ${bench.serverStartS.toFixed(2)} s\n` +
        `JSON: ${o.resultFile}\n`,
    );
  } finally {
    await cleanup();
  }
}

/** Set by a signal: the timed command's failure that follows is ours, not worth a stack trace. */
let interrupted = false;

main().catch((e) => {
  if (interrupted) return;
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
