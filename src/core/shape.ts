/**
 * Shape checks for the repository's small JSON files (config, key files, locks, snapshots): a few
 * dozen fields in all. Written out rather than with a schema library: loading zod (over 200 module
 * files) cost every backup, restore and check ~12 MiB of memory for these four shapes. (The plan
 * file, with its user-facing messages, keeps zod.)
 */

export type Check = (v: unknown) => boolean;

export const isString: Check = (v) => typeof v === 'string';
export const isBoolean: Check = (v) => typeof v === 'boolean';
export const isInt: Check = (v) => Number.isSafeInteger(v);
export const isPositiveInt: Check = (v) => Number.isSafeInteger(v) && (v as number) > 0;
export const isNonNegativeInt: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
export const matching = (re: RegExp): Check => (v) => typeof v === 'string' && re.test(v);
export const oneOf = (...values: unknown[]): Check => (v) => values.includes(v);
export const arrayOf = (item: Check): Check => (v) => Array.isArray(v) && v.every(item);
export const shaped = (fields: Fields): Check => (v) => firstProblem(v, fields) === undefined;

/**
 * `required`: present and passing; `optional`: may be missing; `nullable`: present, may be null;
 * `nullish`: may be missing or null.
 */
export type Presence = 'required' | 'optional' | 'nullable' | 'nullish';
export type Fields = Record<string, Check | [Check, Presence]>;

/** What is wrong with `raw` (`field "x"`, or `not an object`), or undefined if it has the shape. */
export function firstProblem(raw: unknown, fields: Fields): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not an object';
  for (const [name, spec] of Object.entries(fields)) {
    const [check, presence] = typeof spec === 'function' ? [spec, 'required' as const] : spec;
    const v = (raw as Record<string, unknown>)[name];
    if (v === undefined && (presence === 'optional' || presence === 'nullish')) continue;
    if (v === null && (presence === 'nullable' || presence === 'nullish')) continue;
    if (!check(v)) return `field "${name}" ${v === undefined ? 'is missing' : 'is not valid'}`;
  }
  return undefined;
}
