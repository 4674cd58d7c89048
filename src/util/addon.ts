/**
 * The project's Node-API addon (src/core/crypto-native.c, built by `npm run build` into
 * dist/core/crypto-native.node), or undefined where it was not built or KEEPSAKE_NATIVE_CRYPTO=0
 * turns it off (tests, and anyone who wants the WebAssembly and JavaScript paths).
 */
import { createRequire } from 'node:module';

export function projectAddon<T extends object>(): T | undefined {
  if (process.env.KEEPSAKE_NATIVE_CRYPTO === '0') return undefined;
  try {
    return createRequire(import.meta.url)('../core/crypto-native.node') as T;
  } catch {
    return undefined;
  }
}
