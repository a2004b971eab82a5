/**
 * Workflow IDs, the task queue and search attribute names. The ID is what keeps one operation from
 * running twice at once: Temporal never runs two open workflows with one ID, so the ID names the
 * thing that must be exclusive (an instance for backup/delete, a target directory for restore, a
 * backup for merge). IDs and search attributes are stored unencrypted and shown in the Web UI, so
 * they hold instance names and backup IDs only, never paths, hosts or secrets.
 */

export const DEFAULT_TASK_QUEUE = 'gs_probackup';

/** The task queue workers poll and the CLI starts workflows on (TEMPORAL_TASK_QUEUE overrides). */
export function taskQueueFromEnv(env: Record<string, string | undefined>): string {
  const q = env.TEMPORAL_TASK_QUEUE?.trim();
  return q ? q : DEFAULT_TASK_QUEUE;
}

/** Custom search attributes (all Keyword) the dev server registers and workflows set. */
export const SEARCH_ATTRIBUTE_NAMES = ['BackupInstance', 'BackupId', 'BackupOperation', 'BackupStatus'] as const;
export type SearchAttributeName = (typeof SEARCH_ATTRIBUTE_NAMES)[number];

export type WorkflowOperation = 'backup' | 'restore' | 'merge' | 'validate' | 'delete';
const OPERATIONS: readonly WorkflowOperation[] = ['backup', 'restore', 'merge', 'validate', 'delete'];

function checkInstance(instance: string): string {
  // Instance names are directory names under backups/: a '/' would make the ID ambiguous.
  if (instance === '' || instance.includes('/')) {
    throw new Error(`invalid instance name "${instance}" for a workflow ID: it must be non-empty and contain no "/"`);
  }
  return instance;
}

function checkPart(what: string, value: string): string {
  if (!/^[0-9A-Za-z_.-]{1,64}$/.test(value)) {
    throw new Error(`invalid ${what} "${value}" for a workflow ID: expected 1-64 characters from [0-9A-Za-z_.-]`);
  }
  return value;
}

/**
 * 64-bit FNV-1a of the UTF-8 text, as 16 hex digits. Names a restore target directory in an ID
 * without revealing the path; collisions are irrelevant at this scale (two restores into
 * different directories would merely be serialized).
 */
export function pathKey(p: string): string {
  const bytes = new TextEncoder().encode(p);
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

export const workflowIds = {
  /** One backup per instance at a time. */
  backup: (instance: string) => `backup/${checkInstance(instance)}`,
  /** One restore per target directory; `target` is pathKey(pgdata) or a backup ID. */
  restore: (instance: string, target: string) => `restore/${checkInstance(instance)}/${checkPart('restore target', target)}`,
  merge: (instance: string, backupId: string) => `merge/${checkInstance(instance)}/${checkPart('backup ID', backupId)}`,
  validate: (instance: string, backupId?: string) =>
    backupId === undefined ? `validate/${checkInstance(instance)}` : `validate/${checkInstance(instance)}/${checkPart('backup ID', backupId)}`,
  /** delete and delete --delete-expired/--merge-expired of an instance. */
  delete: (instance: string) => `delete/${checkInstance(instance)}`,
};

export interface ParsedWorkflowId {
  operation: WorkflowOperation;
  instance: string;
  /** The third part: a backup ID (merge, validate) or a restore target key. */
  detail?: string;
}

/** Reads an ID made by workflowIds; null for anything else (e.g. started by hand in the UI). */
export function parseWorkflowId(id: string): ParsedWorkflowId | null {
  const parts = id.split('/');
  const op = parts[0] as WorkflowOperation;
  if (!OPERATIONS.includes(op) || parts.length < 2 || parts.length > 3 || parts[1] === '') return null;
  return parts.length === 3 ? { operation: op, instance: parts[1], detail: parts[2] } : { operation: op, instance: parts[1] };
}

/** "another backup of instance 'node'" and the like, for conflict messages. */
export function describeRunningOperation(id: string): string {
  const p = parseWorkflowId(id);
  if (!p) return `another workflow with ID ${id}`;
  const inst = `instance '${p.instance}'`;
  switch (p.operation) {
    case 'backup':
      return `another backup of ${inst}`;
    case 'restore':
      return `another restore of ${inst} into the same target`;
    case 'merge':
      return `another merge of backup ${p.detail} of ${inst}`;
    case 'validate':
      return p.detail ? `another validation of backup ${p.detail} of ${inst}` : `another validation of ${inst}`;
    case 'delete':
      return `another delete of backups of ${inst}`;
  }
}
