import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyPolicy } from './retention.js';
import { type StoredSnapshot } from './snapshot.js';

const snap = (id: string, time: string, o: Partial<StoredSnapshot> = {}): StoredSnapshot =>
  ({ id, time, tree: '0'.repeat(64), paths: ['/p'], hostname: 'h', ...o });

test('keep-last and keep-daily work per host+paths group; attic snapshots are never removed', () => {
  const all = [
    snap('a1', '2025-01-01T10:00:00Z'), snap('a2', '2025-01-01T20:00:00Z'), snap('a3', '2025-01-02T10:00:00Z'),
    snap('a4', '2025-01-03T10:00:00Z'), snap('b1', '2025-01-01T10:00:00Z', { paths: ['/q'] }),
    snap('att', '2024-01-01T00:00:00Z', { tags: ['attic'] }),
  ];
  const ids = (xs: StoredSnapshot[]) => xs.map((s) => s.id).sort();
  let r = applyPolicy(all, { last: 1 });
  assert.deepEqual(ids(r.keep), ['a4', 'att', 'b1']);
  assert.deepEqual(ids(r.remove), ['a1', 'a2', 'a3']);
  r = applyPolicy(all, { daily: 2 });
  assert.deepEqual(ids(r.remove), ['a1', 'a2']);
  r = applyPolicy(all, { last: 1, monthly: 1 });
  assert.deepEqual(r.reasons.get('a4'), ['last', 'monthly']);
});
