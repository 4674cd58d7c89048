import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { findKnownKeys, judgeHostKey, knownHostsName } from './known-hosts.js';
import { parseSftpLocation } from './sftp-connect.js';
import { resolveSshHost } from './ssh-config.js';

it('ssh config: first value wins, patterns and negations, IdentityFile accumulates, Include', async () => {
  const home = await mkdtemp(path.join(tmpdir(), 'keepsake-ssh-'));
  try {
    await mkdir(path.join(home, '.ssh', 'conf.d'), { recursive: true });
    await writeFile(path.join(home, '.ssh', 'conf.d', 'a.conf'), 'Host nas\n  Port 2200\n');
    await writeFile(path.join(home, '.ssh', 'config'), [
      'Include conf.d/*.conf',
      'Host nas nas-*',
      '  HostName 192.168.1.%h',
      '  User = photos',
      '  IdentityFile ~/.ssh/nas_key',
      '  UserKnownHostsFile "~/.ssh/kh one" ~/.ssh/kh2',
      'Host *.example.com !secret.example.com',
      '  User web',
      'Match host nas',
      '  User nobody',
      'Host *',
      '  User fallback',
      '  Port 2222',
      '  IdentityFile ~/.ssh/id_ed25519',
    ].join('\n'));
    const nas = resolveSshHost('nas', { env: { HOME: home }, configFile: undefined });
    assert.equal(nas.hostName, '192.168.1.nas');
    assert.equal(nas.port, 2200);
    assert.equal(nas.user, 'photos');
    assert.deepEqual(nas.identityFiles, [path.join(home, '.ssh/nas_key'), path.join(home, '.ssh/id_ed25519')]);
    assert.deepEqual(nas.knownHostsFiles.slice(0, 2), [path.join(home, '.ssh/kh one'), path.join(home, '.ssh/kh2')]);
    assert.equal(resolveSshHost('www.example.com', { env: { HOME: home } }).user, 'web');
    assert.equal(resolveSshHost('secret.example.com', { env: { HOME: home } }).user, 'fallback');
    const given = resolveSshHost('nas', { env: { HOME: home } }, { user: 'me', port: 22 });
    assert.deepEqual([given.user, given.port], ['me', 22]);
    const plain = resolveSshHost('other', { env: { HOME: home, USER: 'u' }, configFile: path.join(home, 'none') });
    assert.deepEqual([plain.hostName, plain.port, plain.user], ['other', 22, 'u']);
    assert.equal(plain.identityFiles[0], path.join(home, '.ssh/id_ed25519'));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

it('known_hosts: plain, hashed, [host]:port, wildcards and revoked keys', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-kh-'));
  try {
    const key = Buffer.from('key-blob-1');
    const other = Buffer.from('key-blob-2');
    const salt = Buffer.from('0123456789abcdefghij');
    const hashed = (n: string) => `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(n).digest('base64')}`;
    await writeFile(path.join(dir, 'kh'), [
      `# comment`,
      `nas.local,192.168.1.5 ssh-ed25519 ${key.toString('base64')}`,
      `${hashed('[backup.example.com]:2222')} ssh-ed25519 ${key.toString('base64')}`,
      `*.lan,!evil.lan ssh-rsa ${other.toString('base64')}`,
      `@revoked old.example.com ssh-ed25519 ${other.toString('base64')}`,
      `@cert-authority *.example.com ssh-ed25519 ${other.toString('base64')}`,
    ].join('\n'));
    const files = [path.join(dir, 'missing'), path.join(dir, 'kh')];
    assert.equal(knownHostsName('h', 22), 'h');
    assert.equal(knownHostsName('h', 2222), '[h]:2222');
    assert.equal(judgeHostKey(findKnownKeys(files, '192.168.1.5'), key), 'ok');
    assert.equal(judgeHostKey(findKnownKeys(files, '[backup.example.com]:2222'), key), 'ok');
    assert.equal(judgeHostKey(findKnownKeys(files, 'backup.example.com'), key), 'unknown');
    assert.equal(judgeHostKey(findKnownKeys(files, 'nas.local'), other), 'changed');
    assert.equal(judgeHostKey(findKnownKeys(files, 'pi.lan'), other), 'ok');
    assert.equal(judgeHostKey(findKnownKeys(files, 'evil.lan'), other), 'unknown');
    assert.equal(judgeHostKey(findKnownKeys(files, 'old.example.com'), other), 'revoked');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('sftp: parses the repository strings restic accepts', () => {
  assert.deepEqual(parseSftpLocation('sftp:user@host:/srv/repo/'), { host: 'host', user: 'user', port: undefined, dir: '/srv/repo' });
  assert.deepEqual(parseSftpLocation('sftp:nas:backups/photos'), { host: 'nas', user: undefined, port: undefined, dir: 'backups/photos' });
  assert.deepEqual(parseSftpLocation('sftp:me@corp@host:/r'), { host: 'host', user: 'me@corp', port: undefined, dir: '/r' });
  assert.deepEqual(parseSftpLocation('sftp://user@host:2222//abs/path'), { host: 'host', user: 'user', port: 2222, dir: '/abs/path' });
  assert.deepEqual(parseSftpLocation('sftp://host/rel'), { host: 'host', user: undefined, port: undefined, dir: 'rel' });
  for (const bad of ['sftp:host', 'sftp:host:', 'sftp://host', 'sftp:host:~/repo', 'sftp://u:pw@host//x']) {
    assert.throws(() => parseSftpLocation(bad), /invalid SFTP repository/, bad);
  }
  assert.throws(() => parseSftpLocation('sftp://u:hunter22@host//x'), (e: unknown) => e instanceof Error && !e.message.includes('hunter22'));
});
