import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { BackendError } from './backend.js';
import { findCredentials, parseS3Location } from './s3-config.js';

it('s3: parses the repository strings restic accepts', () => {
  const cases: [string, string, string, string][] = [
    ['s3:https://s3.example.com/bucket/photos/2024', 'https://s3.example.com', 'bucket', 'photos/2024'],
    ['s3:http://127.0.0.1:7480/bucket', 'http://127.0.0.1:7480', 'bucket', ''],
    ['s3:http://127.0.0.1:7480/bucket/', 'http://127.0.0.1:7480', 'bucket', ''],
    ['s3:s3.amazonaws.com/bucket/a//b/', 'https://s3.amazonaws.com', 'bucket', 'a/b'],
    ['s3://minio:9000/bucket/x', 'https://minio:9000', 'bucket', 'x'],
  ];
  for (const [loc, endpoint, bucket, prefix] of cases) assert.deepEqual(parseS3Location(loc), { endpoint, bucket, prefix }, loc);
  for (const bad of ['s3:', 's3:host', 's3:https://host/', 's3:host/bucket/../..']) {
    assert.throws(() => parseS3Location(bad), (e: unknown) => e instanceof BackendError && e.code === 'permanent', bad);
  }
  assert.throws(() => parseS3Location('s3:https://AKID:topsecret@host/bucket'), (e: unknown) =>
    e instanceof Error && /not supported/.test(e.message) && !e.message.includes('topsecret'));
});

it('s3: finds credentials in the environment, then in the shared credentials file', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-aws-'));
  try {
    assert.deepEqual(findCredentials({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's', HOME: dir }), { accessKeyId: 'a', secretAccessKey: 's' });
    assert.equal(findCredentials({ HOME: dir }), undefined);
    await writeFile(path.join(dir, 'creds'), '# comment\n[default]\naws_access_key_id = AK1\naws_secret_access_key=SK1\n\n[work]\naws_access_key_id=AK2\naws_secret_access_key = SK2\naws_session_token = T2\n');
    const file = path.join(dir, 'creds');
    assert.deepEqual(findCredentials({ AWS_SHARED_CREDENTIALS_FILE: file }), { accessKeyId: 'AK1', secretAccessKey: 'SK1' });
    assert.deepEqual(findCredentials({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'work' }), { accessKeyId: 'AK2', secretAccessKey: 'SK2', sessionToken: 'T2' });
    assert.equal(findCredentials({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'nope' }), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
