import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { BackendError, type Backend } from './backend.js';
import { LimiterBackend } from './limiter.js';
import { LocalBackend } from './local.js';
import { openBackend, openDriver } from './open.js';
import { RetryBackend } from './retry.js';

const env = { HOME: '/nonexistent', AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'a-secret-key-value' };

it('open: parses repository strings as restic does', async () => {
  const cases: [string, string][] = [
    ['/mnt/drive/photos', 'local:/mnt/drive/photos'],
    ['local:/mnt/drive/photos', 'local:/mnt/drive/photos'],
    ['relative/repo', `local:${path.resolve('relative/repo')}`],
    ['./with:colon', `local:${path.resolve('with:colon')}`],
    ['s3:https://s3.example.com/bucket/photos', 's3:s3.example.com/bucket/photos'],
    ['s3:s3.example.com/bucket', 's3:s3.example.com/bucket'],
    ['s3:http://127.0.0.1:7480/bucket/x', 's3:http://127.0.0.1:7480/bucket/x'],
    ['sftp:user@nas:/srv/repo', 'sftp:user@nas:/srv/repo'],
    ['sftp://user@nas:2222//srv/repo', 'sftp://user@nas:2222//srv/repo'],
    ['rest:https://alice:pw-1234@host:8000/repo/', 'rest:https://alice:***@host:8000/repo/'],
    ['rclone:b2:bucket/photos', 'rclone:b2:bucket/photos'],
  ];
  for (const [loc, shown] of cases) {
    const b = await openDriver(loc, { env });
    assert.equal(b.location, shown, loc);
    await b.close();
  }
});

it('open: composes driver → limiter → retry, and unwraps back to the driver', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-open-'));
  try {
    const b = await openBackend(dir, { env, onRetry: () => undefined });
    assert.ok(b instanceof RetryBackend);
    const limiter = b.unwrap();
    assert.ok(limiter instanceof LimiterBackend);
    const driver: Backend = limiter.unwrap();
    assert.ok(driver instanceof LocalBackend);
    assert.equal(b.connections, driver.connections);
    await b.create();
    await b.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('open: unknown and unsupported schemes are clear errors that hide passwords', async () => {
  await assert.rejects(openBackend('s4:bucket/x', { env }), (e: unknown) =>
    e instanceof BackendError && e.code === 'permanent' && /unknown repository type "s4:"/.test(e.message) && /\.\/s4:bucket/.test(e.hint ?? ''));
  await assert.rejects(openBackend('b2:bucket:photos', { env }), (e: unknown) =>
    e instanceof BackendError && /cannot use "b2:"/.test(e.message) && /rclone:/.test(e.hint ?? ''));
  await assert.rejects(openBackend('ftp://u:hunter2-pw@host/x', { env }), (e: unknown) =>
    e instanceof BackendError && /"ftp:"/.test(e.message) && !`${e.message}${e.hint}`.includes('hunter2-pw'));
  for (const bad of ['rest:nonsense', 'sftp:nohostorpath', 's3:', 'rclone:']) {
    await assert.rejects(openBackend(bad, { env }), (e: unknown) => e instanceof BackendError && e.code === 'permanent', bad);
  }
});
