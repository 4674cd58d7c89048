/** The project's WebAssembly modules (src/core/*.wat, compiled into dist/core/ by the build). */
import { readFileSync } from 'node:fs';

/** Compiled once per thread, by file name. */
const compiled = new Map<string, WebAssembly.Module>();

/** A new instance of `file` (e.g. 'chunker.wasm', beside this module), with its exports. */
export function instantiate<Exports>(file: string): Exports {
  let mod = compiled.get(file);
  if (!mod) {
    mod = new WebAssembly.Module(readFileSync(new URL(`./${file}`, import.meta.url)));
    compiled.set(file, mod);
  }
  return new WebAssembly.Instance(mod, {}).exports as unknown as Exports;
}
