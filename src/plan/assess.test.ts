import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assess, type DestinationState } from './assess.js';
import { type Destination } from './config.js';

const day = 86_400_000;
const now = Date.parse('2025-03-01T00:00:00Z');
const dest = (name: string, o: Partial<Destination>, held: string[], lastBackupMs = now - day / 2): DestinationState => ({
  config: { name, repository: `/r/${name}`, media: 'nas', offsite: false, removable: false, rhythm: 'monthly', password_env: 'P', ...o },
  reachable: true, known: true, lastBackupMs, snapshots: 1,
  holdings: new Map(held.map((c) => [c, { snapshot: 's1', timeMs: lastBackupMs, path: `/p/${c}.jpg`, tags: [], inLatest: true }])),
});
const sources = [{ name: 'photos', path: '/p', media: 'internal-disk' as const }];
const files = ['a', 'b', 'c'].map((c) => ({ source: 'photos', path: `/p/${c}.jpg`, size: 1, content: c }));

test('3-2-1 per photo: copies, kinds of media, offsite; overdue destinations; deleted photos', () => {
  const r = assess(sources, [...files, { source: 'photos', path: '/p/dup/a.jpg', size: 1, content: 'a' }], [
    dest('drive', { media: 'external-drive', removable: true }, ['a', 'b', 'c', 'gone'], now - 34 * day),
    dest('cloud', { media: 'cloud', offsite: true, rhythm: 'daily' }, ['a']),
    dest('nas', { media: 'nas' }, ['a', 'b']),
  ], now);
  assert.deepEqual({ photos: r.photos, safe: r.safe, atRisk: r.atRisk }, { photos: 3, safe: 1, atRisk: 2 });
  const by = Object.fromEntries(r.risks.map((g) => [g.key, g.photos.map((p) => p.paths.join('+'))]));
  assert.deepEqual(by, {
    'no-offsite': ['/p/b.jpg', '/p/c.jpg'],
    'only-2-copies': ['/p/c.jpg'],
    'overdue:drive': [],
  });
  assert.equal(r.risks.find((g) => g.key === 'overdue:drive')?.text, 'drive: external-drive last connected 34 days ago; plan says monthly');
  assert.deepEqual(r.deleted.map((d) => [d.path, d.copies.map((c) => c.destination)]), [['/p/gone.jpg', ['drive']]]);
});

test('the original alone is one copy on one kind of media', () => {
  const r = assess(sources, files.slice(0, 1), [], now);
  assert.deepEqual(r.risks.map((g) => g.key), ['no-offsite', 'one-media', 'only-1-copy']);
});
