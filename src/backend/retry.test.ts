import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BackendError } from './backend.js';
import { FaultyBackend } from './faulty.js';
import { LimiterBackend } from './limiter.js';
import { MemoryBackend } from './memory.js';
import { RetryBackend } from './retry.js';
import { backupWorkload } from './workload.test-helper.js';

const noWait = { sleep: async () => {}, random: () => 0.5 };

it('retry: a backup through faulty + retry with a third of the calls failing stores everything', async () => {
  for (const seed of [1, 2, 3]) {
    const memory = new MemoryBackend();
    const faulty = new FaultyBackend(memory, { seed, failRate: 0.33, truncateRate: 0.3 });
    const retries: string[] = [];
    const b = new RetryBackend(new LimiterBackend(faulty, 3), { ...noWait, attempts: 20, onRetry: (m) => retries.push(m) });
    await backupWorkload(b, 60, 6);
    const { failedBefore, failedAfter, truncated } = faulty.injected;
    assert.ok(failedBefore > 5 && failedAfter > 5 && truncated > 5, `seed ${seed}: faults of every kind happened`);
    // Every injected fault cost one retry (a few were absorbed by the inner stat of a save's retry).
    assert.ok(retries.length >= (failedBefore + failedAfter + truncated) * 0.8, `seed ${seed}: ${retries.length} retries`);
  }
});

it('retry: gives up after the last attempt, and never retries permanent errors', async () => {
  const memory = new MemoryBackend();
  await memory.save({ type: 'config', name: '' }, Buffer.from('c'));
  const always = new FaultyBackend(memory, { failRate: 1 });
  const delays: number[] = [];
  const b = new RetryBackend(always, { attempts: 4, baseDelayMs: 100, maxDelayMs: 250, sleep: async (ms) => void delays.push(ms), random: () => 1 });
  await assert.rejects(b.stat({ type: 'config', name: '' }), (e: unknown) => e instanceof BackendError && e.code === 'transient');
  assert.deepEqual(delays, [100, 200, 250]);

  let calls = 0;
  const perm = new RetryBackend({ ...new MemoryBackend(), location: 'x:', connections: 1, stat: async () => {
    calls++;
    throw new BackendError('permanent', 'x: denied');
  } } as unknown as MemoryBackend, noWait);
  await assert.rejects(perm.stat({ type: 'config', name: '' }), /denied/);
  assert.equal(calls, 1);
  await assert.rejects(new RetryBackend(new MemoryBackend(), noWait).load({ type: 'key', name: 'a'.repeat(64) }, 0, 0),
    (e: unknown) => e instanceof BackendError && e.code === 'not-found');
});

it('limiter: never more than N calls in flight, and a listing holds no slot between entries', async () => {
  const memory = new MemoryBackend();
  let inFlight = 0;
  let peak = 0;
  const slow = new FaultyBackend(memory, { maxDelayMs: 3 });
  const counting = new Proxy(slow, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'save' || typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        peak = Math.max(peak, ++inFlight);
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          inFlight--;
        }
      };
    },
  });
  const b = new LimiterBackend(counting, 2);
  await Promise.all(Array.from({ length: 20 }, (_, i) => b.save({ type: 'pack', name: i.toString(16).padStart(64, '0') }, Buffer.from([i]))));
  assert.equal(peak, 2);
  const one = new LimiterBackend(memory, 1);
  for await (const f of one.list('pack')) await one.load({ type: 'pack', name: f.name }, 0, 0);
  assert.equal(one.unwrap(), memory);
});
