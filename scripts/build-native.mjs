// Builds the project's Node-API addon (src/core/crypto-native.c: restic's AES-CTR and Poly1305-AES
// through Node's own OpenSSL) into dist/core/crypto-native.node, with the node-gyp that npm carries
// and the C compiler native npm packages need (better-sqlite3 builds the same way).
//
// The addon is an acceleration: should it not build (no compiler, no Node headers), keepsake uses
// its WebAssembly Poly1305 and Node's ciphers, with the same results, and this says so loudly. In CI
// (CI=true) a failed build fails, and the tests check that the addon is what runs.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const source = path.resolve('src/core/crypto-native.c');
const target = path.resolve('dist/core/crypto-native.node');
const work = path.resolve('dist/native-build');

if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs && statSync(target).mtimeMs >= statSync(import.meta.filename).mtimeMs) {
  process.exit(0);
}

// npm names its node-gyp in the environment of the scripts it runs; otherwise, the one beside npm.
const candidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].filter(Boolean);
const gyp = candidates.find((p) => existsSync(p));

function giveUp(why) {
  rmSync(target, { force: true });
  const message = [
    '',
    '*** keepsake: the native crypto addon was not built: ' + why,
    '*** keepsake still works, with WebAssembly and Node\'s ciphers instead: the same results, about',
    '*** a third of the speed for encrypting and checking. To build it, install a C compiler, make and',
    '*** python3 (Debian: apt-get install build-essential python3), then run `npm run build`.',
    '',
  ].join('\n');
  console.error(message);
  process.exit(process.env.CI === 'true' ? 1 : 0);
}

if (!gyp) giveUp('node-gyp was not found (it comes with npm)');
mkdirSync(work, { recursive: true });
writeFileSync(
  path.join(work, 'binding.gyp'),
  JSON.stringify({
    targets: [{ target_name: 'crypto-native', sources: [path.relative(work, source)], cflags: ['-O2', '-Wall', '-Wextra', '-Werror'] }],
  }),
);
// Build against the running Node's own headers where it has them (no download of headers).
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir = !process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include/node/node_api.h')) ? [`--nodedir=${prefix}`] : [];
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--silent', ...nodedir], { cwd: work, encoding: 'utf8' });
if (r.status !== 0) process.stderr.write(r.stdout + r.stderr);
if (r.status !== 0) giveUp(`node-gyp rebuild exited with ${r.status ?? r.signal}`);
copyFileSync(path.join(work, 'build/Release/crypto-native.node'), target);
rmSync(work, { recursive: true, force: true });
