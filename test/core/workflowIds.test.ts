import {
  DEFAULT_TASK_QUEUE,
  describeRunningOperation,
  parseWorkflowId,
  pathKey,
  taskQueueFromEnv,
  workflowIds,
} from '../../core/workflowIds';

describe('workflow IDs', () => {
  test('one ID per exclusive thing', () => {
    expect(workflowIds.backup('node')).toBe('backup/node');
    expect(workflowIds.merge('node', 'SCUN4E')).toBe('merge/node/SCUN4E');
    expect(workflowIds.validate('node')).toBe('validate/node');
    expect(workflowIds.validate('node', 'SCUN4E')).toBe('validate/node/SCUN4E');
    expect(workflowIds.delete('node')).toBe('delete/node');
    expect(workflowIds.restore('node', pathKey('/var/lib/pg/15/main'))).toMatch(/^restore\/node\/[0-9a-f]{16}$/);
  });

  test('restore IDs do not reveal the target path', () => {
    const id = workflowIds.restore('node', pathKey('/secret/place/pgdata'));
    expect(id).not.toContain('secret');
    expect(pathKey('/a')).not.toBe(pathKey('/b'));
    // FNV-1a 64 of "a" is af63dc4c8601ec8c (published test vector).
    expect(pathKey('a')).toBe('af63dc4c8601ec8c');
    expect(pathKey('')).toBe('cbf29ce484222325');
  });

  test('rejects parts that would make an ID ambiguous', () => {
    expect(() => workflowIds.backup('a/b')).toThrow(/instance name "a\/b"/);
    expect(() => workflowIds.backup('')).toThrow(/non-empty/);
    expect(() => workflowIds.merge('node', '../x')).toThrow(/backup ID/);
  });

  test('parse and describe for conflict messages', () => {
    expect(parseWorkflowId('merge/node/SCUN4E')).toEqual({ operation: 'merge', instance: 'node', detail: 'SCUN4E' });
    expect(parseWorkflowId('backup/node')).toEqual({ operation: 'backup', instance: 'node' });
    expect(parseWorkflowId('something-else')).toBeNull();
    expect(parseWorkflowId('backup/')).toBeNull();
    expect(describeRunningOperation('backup/node')).toBe("another backup of instance 'node'");
    expect(describeRunningOperation('merge/node/SCUN4E')).toBe("another merge of backup SCUN4E of instance 'node'");
    expect(describeRunningOperation('validate/node')).toBe("another validation of instance 'node'");
    expect(describeRunningOperation('x-1')).toBe('another workflow with ID x-1');
  });

  test('task queue from the environment', () => {
    expect(taskQueueFromEnv({})).toBe(DEFAULT_TASK_QUEUE);
    expect(DEFAULT_TASK_QUEUE).toBe('gs_probackup');
    expect(taskQueueFromEnv({ TEMPORAL_TASK_QUEUE: ' prod ' })).toBe('prod');
    expect(taskQueueFromEnv({ TEMPORAL_TASK_QUEUE: '' })).toBe(DEFAULT_TASK_QUEUE);
  });
});
