// Compiles the project's WebAssembly text files (src/**/*.wat) into dist/ with wabt, a JS build of
// the WebAssembly Binary Toolkit: no native tool and no downloaded binary.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import wabtInit from 'wabt';

const wabt = await wabtInit();
function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? find(p) : e.name.endsWith('.wat') ? [p] : [];
  });
}
for (const file of find('src')) {
  const mod = wabt.parseWat(file, readFileSync(file, 'utf8'), { bulk_memory: true, simd: true });
  mod.validate();
  const { buffer } = mod.toBinary({});
  const out = path.join('dist', path.relative('src', file)).replace(/\.wat$/, '.wasm');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, buffer);
  mod.destroy();
}
