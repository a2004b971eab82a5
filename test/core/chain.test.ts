import { chooseIncrementalParent, descendantsOf, findOrphans, indexById, scanParentChain, type ChainNode } from '../../core/chain';
import type { Lsn } from '../../core/lsn';
import type { BackupStatus } from '../../core/types';

const n = (id: string, mode: ChainNode['mode'], status: BackupStatus, parentId?: string, timeline = 1): ChainNode => ({
  id, mode, status, timeline, startLsn: '0/1' as Lsn, ...(parentId ? { parentId } : {}),
});

describe('incremental chains', () => {
  // Newest first, as the catalog lists them.
  const catalog = [n('D3', 'DELTA', 'OK', 'D2'), n('D2', 'DELTA', 'OK', 'D1'), n('D1', 'DELTA', 'OK', 'F1'), n('F1', 'FULL', 'OK')];

  it('scans a whole chain FULL first', () => {
    const s = scanParentChain(indexById(catalog), 'D3');
    expect(s.kind).toBe('ok');
    expect(s.chain.map((x) => x.id)).toEqual(['F1', 'D1', 'D2', 'D3']);
  });

  it('reports the missing parent of a broken chain and the oldest invalid member of a whole one', () => {
    const broken = catalog.filter((x) => x.id !== 'D1');
    expect(scanParentChain(indexById(broken), 'D3')).toMatchObject({ kind: 'broken', missingId: 'D1' });
    const invalid = catalog.map((x) => (x.id === 'D1' ? { ...x, status: 'CORRUPT' as const } : x.id === 'D2' ? { ...x, status: 'ORPHAN' as const } : x));
    const s = scanParentChain(indexById(invalid), 'D3');
    expect(s.kind).toBe('invalid');
    expect(s.kind === 'invalid' && s.invalid.id).toBe('D1');
    // A loop of parent links is a broken chain, not an endless walk.
    expect(scanParentChain(indexById([n('A', 'DELTA', 'OK', 'B'), n('B', 'DELTA', 'OK', 'A')]), 'A').kind).toBe('broken');
  });

  it('chooses the newest valid backup descending from the newest valid FULL of the timeline', () => {
    const c = chooseIncrementalParent(catalog, 1);
    expect(c.ok && c.parent.id).toBe('D3');
    expect(c.ok && c.chain.map((x) => x.id)).toEqual(['F1', 'D1', 'D2', 'D3']);
    // A newer FULL wins over the older chain.
    const c2 = chooseIncrementalParent([n('F2', 'FULL', 'DONE'), ...catalog], 1);
    expect(c2.ok && c2.parent.id).toBe('F2');
    // Invalid ones are skipped with pg_probackup's warnings; the running backup itself silently.
    const c3 = chooseIncrementalParent([n('NEW', 'DELTA', 'RUNNING'), n('D3', 'DELTA', 'CORRUPT', 'D2'), ...catalog.slice(1)], 1, 'NEW');
    expect(c3.ok && c3.parent.id).toBe('D2');
    expect(c3.warnings).toEqual(['WARNING: Backup D3 has status: CORRUPT. Cannot be a parent.']);
    const c4 = chooseIncrementalParent([n('D3', 'DELTA', 'OK', 'D2'), n('D2', 'DELTA', 'ERROR', 'D1'), ...catalog.slice(2)], 1);
    expect(c4.ok && c4.parent.id).toBe('D1');
    expect(c4.warnings).toEqual(['WARNING: Backup D3 has invalid parent: D2. Cannot be a parent', 'WARNING: Backup D2 has status: ERROR. Cannot be a parent.']);
  });

  it('refuses without a valid FULL backup on the current timeline', () => {
    const msg = 'Valid full backup on current timeline 2 is not found. Create new FULL backup before an incremental one.';
    expect(chooseIncrementalParent(catalog, 2)).toMatchObject({ ok: false, error: msg });
    expect(chooseIncrementalParent([n('F1', 'FULL', 'CORRUPT', undefined, 2)], 2)).toMatchObject({ ok: false, error: msg });
    expect(chooseIncrementalParent([], 1)).toMatchObject({ ok: false });
  });

  it('lists descendants through any depth', () => {
    const tree = [n('E', 'DELTA', 'OK', 'F2'), n('F2', 'FULL', 'OK'), ...catalog];
    expect(descendantsOf(tree, 'D1').map((x) => x.id)).toEqual(['D3', 'D2']);
    expect(descendantsOf(tree, 'F1').map((x) => x.id)).toEqual(['D3', 'D2', 'D1']);
  });

  it('orphans the valid descendants of an invalid or missing ancestor, as pg_probackup words it', () => {
    const corrupt = catalog.map((x) => (x.id === 'D1' ? { ...x, status: 'CORRUPT' as const } : x));
    expect(findOrphans(corrupt).map((f) => [f.id, f.mark, f.message])).toEqual([
      ['D3', true, 'Backup D3 is orphaned because his parent D1 has status: CORRUPT'],
      ['D2', true, 'Backup D2 is orphaned because his parent D1 has status: CORRUPT'],
    ]);
    const missing = catalog.filter((x) => x.id !== 'F1').map((x) => (x.id === 'D3' ? { ...x, status: 'ERROR' as const } : x));
    expect(findOrphans(missing).map((f) => f.message)).toEqual([
      'Backup D3 has missing parent F1',
      'Backup D2 is orphaned because his parent F1 is missing',
      'Backup D1 is orphaned because his parent F1 is missing',
    ]);
    expect(findOrphans(catalog)).toEqual([]);
  });
});
