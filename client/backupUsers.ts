/**
 * Which running workflows use a backup: the guard that keeps `delete` from removing a backup that a
 * backup is writing or a restore/validate/merge is reading. Temporal knows every running workflow;
 * what each one reads is found in its ID (validate/merge name the backup), its BackupId search
 * attribute (set by the CLI, or by the backup workflow once it has an ID), its input (`backupId`),
 * and, for a restore of "the latest backup", the result of the (local) activity that chose it.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { CliError } from './errors';
import type { TemporalContext } from './temporal/connection';
import { parseWorkflowId } from '../core/workflowIds';
import { searchAttributeKeys } from './temporal/searchAttributes';

export interface BackupUser {
  workflowId: string;
  runId: string;
  operation: string;
  /** Why it counts: it names the backup, or it may still choose it. */
  how: 'reads or writes it' | 'may still choose it' | 'validates every backup of the instance';
}

type Payloads = { payloads?: unknown[] | null } | null | undefined;

/** The marker a local activity's result is recorded in (Temporal's core SDK). */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

function decodeFirst(p: Payloads): unknown {
  const first = p?.payloads?.[0];
  if (!first) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(first as never);
  } catch {
    return undefined;
  }
}

/** backupId fields of an object (and of its `backups` list, for a delete workflow). */
function idsIn(v: unknown): string[] {
  if (!v || typeof v !== 'object') return [];
  const o = v as { backupId?: unknown; backups?: unknown };
  const out: string[] = [];
  if (typeof o.backupId === 'string') out.push(o.backupId);
  if (Array.isArray(o.backups)) for (const b of o.backups) if (b && typeof (b as { id?: unknown }).id === 'string') out.push((b as { id: string }).id);
  return out;
}

/**
 * The running workflows of `instance` that use any of `backupIds`. `runningBackupIds` are those of
 * them whose status is RUNNING: a backup workflow that has not published its backup ID yet may be
 * writing one of them.
 */
export async function findBackupUsers(
  client: Client,
  instance: string,
  backupIds: string[],
  runningBackupIds: string[],
): Promise<BackupUser[]> {
  const wanted = new Set(backupIds);
  const users: BackupUser[] = [];
  for await (const wf of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) {
    const parsed = parseWorkflowId(wf.workflowId);
    const saInstance = wf.typedSearchAttributes.get(searchAttributeKeys.BackupInstance);
    if (parsed?.instance !== instance && saInstance !== instance) continue;
    const operation = parsed?.operation ?? wf.typedSearchAttributes.get(searchAttributeKeys.BackupOperation) ?? wf.type;
    const named = new Set<string>();
    const sa = wf.typedSearchAttributes.get(searchAttributeKeys.BackupId);
    if (sa) named.add(sa);
    // validate/merge IDs name their backup; a restore's names its target (a path key, 16 hex digits, or a backup ID).
    if (parsed?.detail && !(operation === 'restore' && /^[0-9a-f]{16}$/.test(parsed.detail))) named.add(parsed.detail);
    let inputNamesOne = false;
    // A restore or validate names the chain it reads once an activity has resolved it (its result's `backups`).
    let chainKnown = false;
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    for (const ev of history.events ?? []) {
      const started = ev.workflowExecutionStartedEventAttributes;
      if (started) {
        const ids = idsIn(decodeFirst(started.input));
        inputNamesOne = ids.length > 0;
        ids.forEach((i) => named.add(i));
      }
      // An activity's result, or a local activity's (a marker: prepareRestore is one).
      const marker = ev.markerRecordedEventAttributes;
      const result = ev.activityTaskCompletedEventAttributes?.result ?? (marker?.markerName === LOCAL_ACTIVITY_MARKER ? marker.details?.result : undefined);
      if (result) {
        const ids = idsIn(decodeFirst(result));
        if (ids.length > 0) chainKnown = true;
        ids.forEach((i) => named.add(i));
      }
    }
    const base = { workflowId: wf.workflowId, runId: wf.runId, operation };
    if ([...named].some((i) => wanted.has(i))) {
      users.push({ ...base, how: 'reads or writes it' });
    } else if (operation === 'validate' && !inputNamesOne && !parsed?.detail) {
      users.push({ ...base, how: 'validates every backup of the instance' });
    } else if ((operation === 'restore' || (operation === 'validate' && parsed?.detail)) && !chainKnown) {
      // It names a backup (or none, for "the latest"), but not yet the parents it will read.
      users.push({ ...base, how: 'may still choose it' });
    } else if (operation === 'backup' && !sa && runningBackupIds.length > 0) {
      users.push({ ...base, how: 'may still choose it' });
    }
  }
  return users;
}

/**
 * Refuses `what` (e.g. "delete backup X") when running workflows use its backups, naming the first
 * one and how to cancel it.
 */
export function refuseIfUsed(tctx: Pick<TemporalContext, 'mode' | 'address'>, what: string, users: BackupUser[]): void {
  if (users.length === 0) return;
  const u = users[0];
  const addr = tctx.mode === 'embedded' ? `--address ${tctx.address} ` : '';
  throw new CliError(
    `cannot ${what}: a running ${u.operation} ${u.how}: workflow ${u.workflowId} (run ${u.runId}); ` +
      `wait for it or cancel it with 'temporal workflow cancel ${addr}-w ${u.workflowId}'` +
      (users.length > 1 ? ` (and ${users.length - 1} more: ${users.slice(1).map((x) => x.workflowId).join(', ')})` : ''),
  );
}
