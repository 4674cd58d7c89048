/**
 * JSON as Go's encoding/json writes it, so that trees keepsake writes are byte-identical to the ones
 * restic writes for the same files (and so deduplicate against them), and RFC 3339 times with
 * nanoseconds as Go's time.Time marshals them.
 */

/** A JSON value whose numbers may be bigint (uint64 fields such as inode and size). */
export type GoValue = string | number | bigint | boolean | null | GoValue[] | { [k: string]: GoValue | undefined };

const goEscapes: Record<string, string> = {
  '\\b': '\\u0008',
  '\\f': '\\u000c',
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

const needsGoEscape = /[<>&\u2028\u2029\b\f]/;

export function goString(s: string): string {
  if (!needsGoEscape.test(s)) return JSON.stringify(s);
  // Match escape pairs first so a literal backslash followed by `b` is not mistaken for `\b`.
  return JSON.stringify(s).replace(/\\.|[<>&\u2028\u2029]/g, (m) => goEscapes[m] ?? m);
}

/** Serialise with object keys in insertion order (callers build objects in Go's field order). */
export function goJson(v: GoValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return goString(v);
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError('non-finite number in JSON');
      return String(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
  }
  if (Array.isArray(v)) return `[${v.map(goJson).join(',')}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v)) if (x !== undefined) parts.push(`${goString(k)}:${goJson(x)}`);
  return `{${parts.join(',')}}`;
}

/**
 * Parse JSON keeping integers that do not fit a double exactly as bigint. Repository JSON holds
 * uint64 fields (inode, size, device_id) that can exceed 2^53.
 */
export function parseJson(text: string): unknown {
  // Fast path: no number of 16 digits or more means none can exceed 2^53. A number starts after `:`,
  // `,` or `[` (and blanks); digit runs inside strings (hex blob IDs have them) do not count. A string
  // that happens to contain such a sequence only sends the text down the slow path, which is exact.
  if (!/[:,[]\s*-?\d{16}/.test(text)) return JSON.parse(text);
  // Quote large integers outside strings, then revive them. A tokenizer-level pass keeps strings intact.
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.eE\d])/g, (m) =>
    m.startsWith('"') ? m : `"\\u0000big:${m}"`);
  return JSON.parse(marked, (_k, v: unknown) => {
    if (typeof v === 'string' && v.startsWith('\u0000big:')) {
      const b = BigInt(v.slice(5));
      return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
    }
    return v;
  });
}

/** Nanoseconds since the Unix epoch, exact. */
export type Nanos = bigint;

const billion = 1_000_000_000n;

/**
 * The machine's UTC offset in minutes at an instant, remembered per quarter hour: time zone rules
 * change offsets only on quarter hours, and getTimezoneOffset is the costly part of formatting a
 * time (three per file of every backup). A wrong guess could only change how an instant is written,
 * never the instant: the text always carries the offset its clock time was computed with.
 */
const offsets = new Map<number, number>();
function offsetMinutes(ms: number): number {
  const quarter = Math.floor(ms / 900_000);
  let o = offsets.get(quarter);
  if (o === undefined) {
    if (offsets.size >= 4096) offsets.clear();
    o = -new Date(ms).getTimezoneOffset();
    offsets.set(quarter, o);
  }
  return o;
}

const p2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/**
 * The last whole second formatted, with its zone suffix: files copied or created together share
 * their ctime and atime seconds, and three times are formatted per file of every backup.
 */
let lastSecond = Number.NaN;
let lastText = '';
let lastZone = '';

function formatSecond(sec: number): void {
  if (sec === lastSecond) return;
  const ms = sec * 1000;
  const offsetMin = offsetMinutes(ms);
  const d = new Date(ms + offsetMin * 60_000);
  const year = d.getUTCFullYear();
  lastText = `${year < 0 ? '-' : ''}${String(Math.abs(year)).padStart(4, '0')}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  const a = Math.abs(offsetMin);
  lastZone = offsetMin === 0 ? 'Z' : `${offsetMin < 0 ? '-' : '+'}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
  lastSecond = sec;
}

/**
 * Format as Go's RFC3339Nano in the machine's local zone: trailing zeros of the fraction trimmed,
 * `Z` for UTC. The result is one flat string (joined, not concatenated): tree nodes keep three per
 * file, and a concatenation would keep every piece alive with it.
 */
export function formatTime(ns: Nanos): string {
  let sec = ns / billion;
  let frac = ns % billion;
  if (frac < 0n) {
    frac += billion;
    sec -= 1n;
  }
  formatSecond(Number(sec));
  let f = Number(frac);
  if (f === 0) return [lastText, lastZone].join('');
  let width = 9;
  while (f % 10 === 0) {
    f /= 10;
    width--;
  }
  return [lastText, '.', String(f).padStart(width, '0'), lastZone].join('');
}

const rfc3339 = /^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

export function parseTime(s: string): Nanos {
  const { sec, nsec } = parseTimeParts(s);
  return BigInt(sec) * billion + BigInt(nsec);
}

/**
 * An RFC 3339 time as whole seconds since the epoch and nanoseconds, both plain numbers. A restore
 * reads two per file (58,833 photos: 0.2 s with a regular expression, a Date and BigInts each), so
 * Go's own layout (four-digit year, fields in range) is read digit by digit; any other goes the
 * general way.
 */
export function parseTimeParts(s: string): { sec: number; nsec: number } {
  const n = s.length;
  if (n >= 20 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && s.charCodeAt(10) === 84 && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58) {
    const y = digitsAt(s, 0, 4);
    const mo = digitsAt(s, 5, 2);
    const d = digitsAt(s, 8, 2);
    const h = digitsAt(s, 11, 2);
    const mi = digitsAt(s, 14, 2);
    const se = digitsAt(s, 17, 2);
    let at = 19;
    let nsec = 0;
    if (s.charCodeAt(at) === 46) {
      let k = at + 1;
      while (k < n && k - at <= 9 && isDigit(s.charCodeAt(k))) nsec = nsec * 10 + s.charCodeAt(k++) - 48;
      if (k === at + 1) nsec = -1;
      else nsec *= 10 ** (9 - (k - at - 1));
      at = k;
    }
    let offset = NaN;
    if (at === n - 1 && s.charCodeAt(at) === 90) offset = 0;
    else if (at === n - 6 && (s.charCodeAt(at) === 43 || s.charCodeAt(at) === 45) && s.charCodeAt(at + 3) === 58) {
      const oh = digitsAt(s, at + 1, 2);
      const om = digitsAt(s, at + 4, 2);
      offset = (s.charCodeAt(at) === 45 ? -1 : 1) * (oh * 3600 + om * 60);
    }
    if (mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && se <= 59 && nsec >= 0 && !Number.isNaN(offset)) {
      return { sec: daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset, nsec };
    }
  }
  return parseTimeGeneral(s);
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** The number written by `len` digits at `at`; NaN if any is not a digit. */
function digitsAt(s: string, at: number, len: number): number {
  let v = 0;
  for (let i = at; i < at + len; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) return NaN;
    v = v * 10 + c - 48;
  }
  return v;
}

/** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (as Date counts them). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function parseTimeGeneral(s: string): { sec: number; nsec: number } {
  const m = rfc3339.exec(s);
  if (!m) throw new SyntaxError(`not an RFC 3339 time: ${JSON.stringify(s)}`);
  const [, y, mo, d, h, mi, se, frac = '', zone] = m;
  // setUTCFullYear, unlike Date.UTC, takes years below 100 literally (Go's zero time is year 1).
  const dt = new Date(0);
  dt.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  dt.setUTCHours(Number(h), Number(mi), Number(se), 0);
  const base = dt.getTime();
  let offsetMin = 0;
  if (zone !== 'Z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  }
  return { sec: Math.round((base - offsetMin * 60_000) / 1000), nsec: Number(frac.padEnd(9, '0') || '0') };
}

export function nowNanos(): Nanos {
  return BigInt(Date.now()) * 1_000_000n;
}
