/**
 * The contract every backend driver must honour, as a test suite each driver's test file calls:
 * `backendContract('local', async () => ({ backend, cleanup }))`.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { BackendError, type Backend, type FileType } from './backend.js';

export interface ContractSubject {
  backend: Backend;
  cleanup(): Promise<void>;
}

function id(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function collect(b: Backend, t: Exclude<FileType, 'config'>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const f of b.list(t)) out.set(f.name, f.size);
  return out;
}

export function backendContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`backend contract: ${name}`, () => {
    const withBackend = (fn: (b: Backend) => Promise<void>) => async () => {
      const s = await make();
      try {
        await fn(s.backend);
      } finally {
        await s.backend.close();
        await s.cleanup();
      }
    };

    it('creates, saves, loads, stats, lists and removes', withBackend(async (b) => {
      await b.create();
      const config = randomBytes(100);
      await b.save({ type: 'config', name: '' }, config);
      assert.deepEqual(Buffer.from(await b.load({ type: 'config', name: '' }, 0, 0)), config);
      const stored = new Map<string, Buffer>();
      for (const type of ['key', 'snapshot', 'index', 'pack', 'lock'] as const) {
        for (let i = 0; i < 3; i++) {
          const data = randomBytes(1 + i * 997);
          const name = id(data);
          await b.save({ type, name }, data);
          stored.set(`${type}/${name}`, data);
        }
      }
      for (const type of ['key', 'snapshot', 'index', 'pack', 'lock'] as const) {
        const listed = await collect(b, type);
        const expected = [...stored].filter(([k]) => k.startsWith(`${type}/`));
        assert.equal(listed.size, expected.length, `list ${type}`);
        for (const [k, data] of expected) {
          const name = k.split('/')[1]!;
          assert.equal(listed.get(name), data.length);
          assert.deepEqual(Buffer.from(await b.load({ type, name }, 0, 0)), data);
          assert.equal((await b.stat({ type, name })).size, data.length);
        }
      }
      const [packKey, pack] = [...stored].find(([k]) => k.startsWith('pack/'))!;
      const packName = packKey.split('/')[1]!;
      await b.remove({ type: 'pack', name: packName });
      await b.remove({ type: 'pack', name: packName }); // idempotent
      assert.equal((await collect(b, 'pack')).has(packName), false);
      await assert.rejects(b.load({ type: 'pack', name: packName }, 0, 0), (e: unknown) => e instanceof BackendError && e.code === 'not-found');
      assert.ok(pack.length > 0);
    }));

    it('loads exact ranges and refuses ranges past the end', withBackend(async (b) => {
      await b.create();
      const data = randomBytes(70_000);
      const h = { type: 'pack' as const, name: id(data) };
      await b.save(h, data);
      for (const [off, len] of [[0, 1], [1, 100], [65_000, 5000], [69_999, 1], [12_345, 0]] as const) {
        const got = Buffer.from(await b.load(h, len, off));
        assert.deepEqual(got, data.subarray(off, len === 0 ? undefined : off + len), `range ${off}+${len}`);
      }
      await assert.rejects(b.load(h, 10, 69_995), BackendError);
    }));

    it('reports missing files as not-found', withBackend(async (b) => {
      await b.create();
      const h = { type: 'snapshot' as const, name: id(Buffer.from('nothing')) };
      await assert.rejects(b.load(h, 0, 0), (e: unknown) => e instanceof BackendError && e.code === 'not-found');
      await assert.rejects(b.stat(h), (e: unknown) => e instanceof BackendError && e.code === 'not-found');
      await assert.rejects(b.stat({ type: 'config', name: '' }), (e: unknown) => e instanceof BackendError && e.code === 'not-found');
    }));

    it('refuses to create over an existing repository', withBackend(async (b) => {
      await b.create();
      await b.save({ type: 'config', name: '' }, randomBytes(10));
      await assert.rejects(b.create(), (e: unknown) => e instanceof BackendError && e.code === 'exists');
    }));

    it('saves in parallel', withBackend(async (b) => {
      await b.create();
      const blobs = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i));
      await Promise.all(blobs.map((d) => b.save({ type: 'pack', name: id(d) }, d)));
      assert.equal((await collect(b, 'pack')).size, 20);
    }));
  });
}
