import assert from 'node:assert/strict';
import { it } from 'node:test';
import { redactLocation, scrub } from './redact.js';

it('redactLocation hides passwords in URLs and leaves everything else alone', () => {
  assert.equal(redactLocation('rest:http://alice:s3cret@host:8000/repo/'), 'rest:http://alice:***@host:8000/repo/');
  assert.equal(redactLocation('rest:https://alice@host/'), 'rest:https://alice@host/');
  assert.equal(redactLocation('rest:http://u:p%40ss@host/x@y'), 'rest:http://u:***@host/x@y');
  assert.equal(redactLocation('s3:https://AK:SK@host/bucket'), 's3:https://AK:***@host/bucket');
  for (const same of ['sftp:user@host:/srv/repo', 'sftp://user@host:22//srv', 's3:host/bucket/a', '/mnt/drive/repo', 'rclone:b2:bucket/x']) {
    assert.equal(redactLocation(same), same);
  }
});

it('scrub removes secrets and their URL-encoded forms', () => {
  assert.equal(scrub('GET http://u:p@ss/w0rd@host failed: p%40ss%2Fw0rd', ['p@ss/w0rd']), 'GET http://u:***@host failed: ***');
  assert.equal(scrub('a short one: abc', ['abc', undefined]), 'a short one: abc');
});
