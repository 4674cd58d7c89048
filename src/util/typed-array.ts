/** A typed array of `size` elements (at least as many as `a` has) beginning with `a`'s values. */
export function grown<T extends Uint32Array | Int32Array | Float64Array | Uint8Array>(a: T, size: number): T {
  const next = new (a.constructor as new (n: number) => T)(size);
  next.set(a);
  return next;
}
