/**
 * The chunker's fast path: chunker.wat compiled to WebAssembly (build step), with the data to cut
 * living in the module's memory, so files are read straight into it and never copied. Cuts are the
 * same as the reference Chunker's (tests hold both to restic's golden data).
 */
import { maxSize, minSize, tablesFor } from './chunker.js';
import { instantiate } from './wasm.js';

const dataBase = 65536;

interface Exports {
  memory: WebAssembly.Memory;
  reset(): void;
  setSizes(min: number, max: number): void;
  next(pos: number, end: number): number;
}

export class WasmChunker {
  private readonly x: Exports;
  /** Where callers put the bytes to cut: `capacity` bytes inside the module's memory. */
  readonly data: Buffer;

  constructor(pol: bigint, readonly capacity: number) {
    this.x = instantiate<Exports>('chunker.wasm');
    this.x.memory.grow(Math.ceil(capacity / 65536));
    const t = tablesFor(pol);
    const tables = new BigUint64Array(this.x.memory.buffer, 0, 512);
    for (let b = 0; b < 256; b++) {
      tables[b] = (BigInt(t.outHi[b]! >>> 0) << 32n) | BigInt(t.outLo[b]! >>> 0);
      tables[256 + b] = (BigInt(t.modHi[b]! >>> 0) << 32n) | BigInt(t.modLo[b]! >>> 0);
    }
    this.x.setSizes(minSize, maxSize);
    this.data = Buffer.from(this.x.memory.buffer, dataBase, capacity);
    this.reset();
  }

  reset(): void {
    this.x.reset();
  }

  /** Feed `data[pos:end]`; the index just past the chunk's end if it ends there, else -1. */
  next(pos: number, end: number): number {
    const cut = this.x.next(dataBase + pos, dataBase + end);
    return cut < 0 ? -1 : cut - dataBase;
  }
}
