import * as fs from 'node:fs/promises';
import { archiveTimelines } from '../../core/archiveTimelines';
import type { BackupControl } from '../../core/backupControl';
import { catalogPaths } from '../../core/catalogPaths';
import { formatArchiveJson, formatArchivePlain, formatBackupDetailPlain, formatBackupTable, formatBackupsJson, showRowFromControl } from '../../core/show';
import { listArchive } from '../../activities/archive/walArchive';
import type { CommandContext } from '../context';
import { listInstances, readInstanceConfig, requireCatalog, requireInstance } from '../catalog';
import { resolveInstanceOptions } from '../resolveInstanceOptions';
import { listBackups, type ListedBackup } from '../backupList';
import type { ShowOptions } from '../options/commands';

interface InstanceBackups {
  instance: string;
  backups: ListedBackup[];
}

async function tablespaceMap(dir: string): Promise<string | undefined> {
  try {
    return await fs.readFile(`${dir}/database/tablespace_map`, 'utf8');
  } catch {
    return undefined;
  }
}

function controls(list: ListedBackup[]): BackupControl[] {
  return list.map((b) => b.control).filter((c): c is BackupControl => c !== null);
}

/** Each backup's timeline by ID: an incremental shows its parent's as "parent TLI". */
function timelines(list: ListedBackup[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of list) if (b.control) out[b.id] = b.control.timelineId;
  return out;
}

/** show: the backup list (all instances or one), one backup in detail, plain or JSON (spec §12). */
export async function showCommand(opts: ShowOptions, ctx: CommandContext): Promise<number> {
  const json = opts.format === 'json';
  const nowSec = Math.floor(ctx.now().getTime() / 1000);
  let sets: InstanceBackups[];
  if (opts.instance !== undefined) {
    await requireInstance(opts.backupPath, opts.instance);
    sets = [{ instance: opts.instance, backups: await listBackups(opts.backupPath, opts.instance, ctx.logger) }];
  } else {
    await requireCatalog(opts.backupPath);
    sets = [];
    for (const instance of await listInstances(opts.backupPath)) {
      sets.push({ instance, backups: await listBackups(opts.backupPath, instance, ctx.logger) });
    }
  }

  if (opts.archive) {
    const archives = [];
    for (const set of sets) archives.push({ ...(await readArchive(opts.backupPath, set.instance, set.backups, ctx)), parentTlis: timelines(set.backups) });
    ctx.stdout.write(json ? formatArchiveJson(archives) : archives.map((a) => formatArchivePlain(a.instance, a.timelines, a.segSize)).join(''));
    return 0;
  }

  if (opts.backupId !== undefined) {
    const hit = sets[0].backups.find((b) => b.id === opts.backupId);
    if (!hit || !hit.control) {
      ctx.logger.info(`Requested backup ${opts.backupId} is not found.`);
      return 0;
    }
    if (json) {
      ctx.stdout.write(formatBackupsJson([{ instance: sets[0].instance, backups: [hit.control], parentTlis: timelines(sets[0].backups) }]));
    } else {
      ctx.stdout.write(formatBackupDetailPlain(hit.control, { tablespaceMap: await tablespaceMap(hit.dir) }));
    }
    return 0;
  }

  if (json) {
    ctx.stdout.write(formatBackupsJson(sets.map((s) => ({ instance: s.instance, backups: controls(s.backups), parentTlis: timelines(s.backups) }))));
    return 0;
  }
  let out = '';
  for (const s of sets) {
    if (opts.instance === undefined) out += `\nBACKUP INSTANCE '${s.instance}'\n`;
    const tlis = timelines(s.backups);
    out += formatBackupTable(controls(s.backups).map((c) => showRowFromControl(s.instance, c, nowSec, c.parentBackupId ? tlis[c.parentBackupId] : undefined)));
  }
  ctx.stdout.write(out);
  return 0;
}

/** An instance's WAL archive by timeline (wal/<instance>, spec §12.4). */
async function readArchive(backupPath: string, instance: string, backups: ListedBackup[], ctx: CommandContext) {
  const { files, histories } = await listArchive(catalogPaths.instanceWalDir(backupPath, instance));
  const file = await readInstanceConfig(backupPath, instance);
  const segSize = resolveInstanceOptions({ backupPath, instance, options: {}, file, env: {} }).xlogSegSize;
  const tls = archiveTimelines(files, histories, segSize, controls(backups), (msg) => ctx.logger.warning(msg));
  return { instance, timelines: tls, segSize };
}
