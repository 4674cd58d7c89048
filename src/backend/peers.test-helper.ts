/**
 * Shared by the test files that need a real server (Ceph S3, OpenSSH, rclone's REST server): find
 * the server's settings in the environment (`scripts/peers/start-all.sh` writes them to `.peers/env`),
 * and decide what to do when they are missing. On a developer's machine that is a loud warning and a
 * skip; under CI (`CI=true`) it is a failing test, because a skipped integration test in CI is a
 * test that silently stopped protecting anything.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { Backend, FileType } from './backend.js';

/** The values of `names`, or `undefined` (after registering a skip or a failure) if any is unset. */
export function peerEnv<const K extends string>(server: string, names: readonly K[]): Record<K, string> | undefined {
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length === 0) return Object.fromEntries(names.map((n) => [n, process.env[n]!])) as Record<K, string>;
  const why = `${server} tests need ${missing.join(', ')}: run \`bash scripts/peers/start-all.sh && . .peers/env\` first`;
  if (process.env.CI === 'true') {
    it(`${server} server is available`, () => assert.fail(`CI=true but ${why}`));
  } else {
    const bar = '!'.repeat(Math.min(100, why.length + 12));
    console.warn(`\n${bar}\n!!! SKIPPED: ${why}\n${bar}\n`);
    it.skip(`${server} integration tests (${why})`);
  }
  return undefined;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function randomName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Remove everything a test stored, so servers do not fill up across runs. */
export async function wipe(b: Backend): Promise<void> {
  for (const type of ['key', 'lock', 'snapshot', 'index', 'pack'] as const satisfies readonly Exclude<FileType, 'config'>[]) {
    const names: string[] = [];
    for await (const f of b.list(type)) names.push(f.name);
    for (const name of names) await b.remove({ type, name });
  }
  await b.remove({ type: 'config', name: '' });
}

/** Seconds → MiB/s, for the throughput lines tests print. */
export function mibPerSecond(bytes: number, ms: number): string {
  return `${(bytes / 1024 / 1024 / (ms / 1000)).toFixed(1)} MiB/s`;
}
