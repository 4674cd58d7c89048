import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CorruptError } from './errors.js';
import { decodeTree, encodeTree, TreeEncoder, utf8Compare, type TreeNode } from './tree.js';

const id = (c: string) => c.repeat(64);
const file: TreeNode = {
  name: 'IMG_0001.JPG', type: 'file', mode: 0o644, mtime: '2024-05-01T10:00:00.123456789+02:00', atime: '2024-05-01T10:00:00+02:00',
  ctime: '2024-05-01T10:00:00Z', uid: 1000, gid: 1000, user: 'ann', group: 'ann', inode: 2n ** 60n, deviceId: 66306n, size: 4_000_000,
  links: 1n, content: [id('a'), id('b')],
};
const dir: TreeNode = { name: 'Café ☕', type: 'dir', mode: 2 ** 31 + 0o755, mtime: file.mtime, atime: file.atime, ctime: file.ctime, uid: 0, gid: 0, content: null, subtree: id('c') };

it('trees round-trip through restic\'s JSON, uint64 fields exact, names with odd bytes included', () => {
  const odd: TreeNode = { ...file, name: 'a\u0001b"c\\d' };
  // UTF-16 order puts the emoji (D83D…) before the fullwidth A (FF21); byte order (F0… vs EF…) does not.
  const wide: TreeNode = { ...file, name: '\uFF21' };
  const emoji: TreeNode = { ...file, name: '\u{1F600}' };
  const back = decodeTree(encodeTree([emoji, file, dir, odd, wide]));
  const byName = new Map(back.map((n) => [n.name, n]));
  assert.equal(byName.get('IMG_0001.JPG')!.inode, 2n ** 60n);
  assert.deepEqual(byName.get('IMG_0001.JPG')!.content, [id('a'), id('b')]);
  assert.equal(byName.get('Café ☕')!.subtree, id('c'));
  assert.ok(byName.has('a\u0001b"c\\d'));
  // Nodes are stored in byte order of their names, as restic sorts them.
  assert.deepEqual(back.map((n) => n.name), ['Café ☕', 'IMG_0001.JPG', 'a\u0001b"c\\d', '\uFF21', '\u{1F600}']);
  assert.deepEqual(decodeTree(Buffer.from('{"nodes":null}\n')), []);
});

it('a malformed tree is a CorruptError naming what is wrong, never a crash or a partial result', () => {
  const bad = (json: string, why: RegExp) => assert.throws(() => decodeTree(Buffer.from(json)), (e: Error) => e instanceof CorruptError && why.test(e.message), json);
  bad('{"nodes":[', /not valid JSON/);
  bad('[]', /malformed/);
  bad('{"nodes":[{"type":"file"}]}', /nodes\.0\.name/);
  bad('{"nodes":[{"name":"x","type":"pipe-dream"}]}', /nodes\.0\.type/);
  bad(`{"nodes":[{"name":"x","type":"file","content":["${id('a').slice(1)}"]}]}`, /nodes\.0\.content\.0: not a blob ID/);
  bad('{"nodes":[{"name":"x","type":"dir","subtree":"../../etc"}]}', /nodes\.0\.subtree/);
  bad('{"nodes":[{"name":"x","type":"file","size":-1}]}', /nodes\.0\.size/);
  bad('{"nodes":[{"name":"x","type":"file","uid":1.5}]}', /nodes\.0\.uid/);
});

it('orders names by their UTF-8 bytes, as Go does, surrogate pairs included', () => {
  const alphabet = ['a', 'B', '~', 'é', 'ß', '中', '\uE000', '\uFFFD', '😀', '𝄞', '\u0000', ' '];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const word = () => Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
  for (let i = 0; i < 5000; i++) {
    const a = word();
    const b = word();
    assert.equal(Math.sign(utf8Compare(a, b)), Buffer.compare(Buffer.from(a), Buffer.from(b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
});

it('encodes as Go does: HTML characters and U+2028 escaped, names quoted the strconv way, fields omitted when empty', () => {
  const nodes: TreeNode[] = [
    { name: 'a<b>&"c\\d', type: 'file', mode: 0o644, mtime: '2024-05-01T10:00:00.1+02:00', atime: 'x<', ctime: 'z', uid: 1, gid: 2, user: 'ü<', group: 'g&',
      inode: 5n, deviceId: 7n, size: 3, links: 1n, linktarget: 't\u2028', content: ['a'.repeat(64)], error: 'e>' },
    { name: '\uE000', type: 'file', mode: 0, mtime: 'm', atime: 'a', ctime: 'c', uid: 0, gid: 0, content: [] },
    { name: '𝄞', type: 'symlink', mode: 0, mtime: 'm', atime: 'a', ctime: 'c', uid: 0, gid: 0, content: null, linktarget: '../x' },
  ];
  assert.equal(encodeTree(nodes).toString(), "{\"nodes\":[{\"name\":\"a\\u003cb\\u003e\\u0026\\\\\\\"c\\\\\\\\d\",\"type\":\"file\",\"mode\":420,\"mtime\":\"2024-05-01T10:00:00.1+02:00\",\"atime\":\"x\\u003c\",\"ctime\":\"z\",\"uid\":1,\"gid\":2,\"user\":\"ü\\u003c\",\"group\":\"g\\u0026\",\"inode\":5,\"device_id\":7,\"size\":3,\"links\":1,\"linktarget\":\"t\\u2028\",\"content\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"],\"error\":\"e\\u003e\"},{\"name\":\"\\\\ue000\",\"type\":\"file\",\"mtime\":\"m\",\"atime\":\"a\",\"ctime\":\"c\",\"uid\":0,\"gid\":0,\"content\":[]},{\"name\":\"𝄞\",\"type\":\"symlink\",\"mtime\":\"m\",\"atime\":\"a\",\"ctime\":\"c\",\"uid\":0,\"gid\":0,\"linktarget\":\"../x\",\"content\":null}]}\n");
});

it('trees encoded one after another keep their bytes; long names outgrow the estimate', () => {
  const many = (n: number, prefix: string, extra = ''): TreeNode[] =>
    Array.from({ length: n }, (_, i) => ({ ...file, name: `${prefix}${String(i).padStart(6, '0')}${extra}` }));
  const small = encodeTree([file, dir]);
  // Long names make nodes outgrow the estimate of their encoder's buffer.
  const big = encodeTree(many(3000, 'IMG_'));
  const longNames = encodeTree(many(2100, 'x', 'é'.repeat(600)));
  const bigCopy = Buffer.from(big);
  const after = encodeTree([file, dir]);
  assert.deepEqual(after, small);
  assert.deepEqual(big, bigCopy, 'a later encoding changed an earlier tree');
  assert.deepEqual(decodeTree(big).map((n) => n.name), many(3000, 'IMG_').map((n) => n.name));
  assert.deepEqual(decodeTree(longNames).map((n) => n.name), many(2100, 'x', 'é'.repeat(600)).map((n) => n.name));
  assert.ok(longNames.length > 2100 * 512, 'the long names do outgrow the estimate');
});

it('a tree written node by node, in name order, is the tree encodeTree makes; out of order is refused', () => {
  const e = new TreeEncoder(2);
  e.add(file);
  assert.throws(() => e.add(dir), /out of order/, "'Café ☕' sorts before 'IMG_0001.JPG'");
  const inOrder = new TreeEncoder(2);
  for (const n of [file, dir].sort((a, b) => utf8Compare(a.name, b.name))) inOrder.add(n);
  assert.deepEqual(inOrder.finish(), encodeTree([file, dir]));
  // Added one by one as a backup does, the tree of a large folder is the same too.
  const many = Array.from({ length: 2000 }, (_, i) => ({ ...file, name: `IMG_${String(i).padStart(6, '0')}` }));
  const streamed = new TreeEncoder(many.length);
  for (const n of many) streamed.add(n);
  assert.deepEqual(streamed.finish(), encodeTree([...many].reverse()));
  // A clone goes on from the same nodes; the two then differ only in what each is given.
  const common = new TreeEncoder(2);
  common.add(dir);
  const other = common.clone();
  common.add(file);
  other.add({ ...file, size: 5 });
  assert.deepEqual(common.finish(), encodeTree([dir, file]));
  assert.deepEqual(other.finish(), encodeTree([dir, { ...file, size: 5 }]));
});
