import assert from 'node:assert/strict';
import { it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { formatTime, goJson, goString, parseJson, parseTime, parseTimeParts } from './gojson.js';

it('escapes strings as Go encoding/json does', () => {
  assert.equal(goString('a<b>&c'), '"a\\u003cb\\u003e\\u0026c"');
  assert.equal(goString('line\nbreak\ttab"quote\\'), '"line\\nbreak\\ttab\\"quote\\\\"');
  assert.equal(goString('\b\f\u0001'), '"\\u0008\\u000c\\u0001"');
  assert.equal(goString('back\\b'), '"back\\\\b"');
  assert.equal(goString('\u2028 é 📷'), '"\\u2028 é 📷"');
});

it('keeps uint64 values exact', () => {
  const big = 18446744073709551615n;
  assert.equal(goJson({ inode: big, n: 5 }), '{"inode":18446744073709551615,"n":5}');
  assert.deepEqual(parseJson('{"inode":18446744073709551615,"s":"12345678901234567890","n":7}'), { inode: big, s: '12345678901234567890', n: 7 });
  // Numbers anywhere a number can stand (after `[`, `,`, blanks); digit runs inside strings stay text.
  assert.deepEqual(parseJson('{"a": [1, 18446744073709551615],\n "b":\t18446744073709551614}'), { a: [1, big], b: big - 1n });
  assert.deepEqual(parseJson('{"id":"0123456789012345678901234567890123456789012345678901234567890123"}'), { id: '0123456789012345678901234567890123456789012345678901234567890123' });
});

it('formats and parses RFC 3339 times with nanoseconds like Go', () => {
  process.env.TZ ??= 'UTC';
  const ns = 1795305588326993479n;
  const s = formatTime(ns);
  assert.equal(parseTime(s), ns);
  assert.equal(parseTime('2026-11-21T23:59:48.3Z'), 1795305588300000000n);
  assert.equal(parseTime('2019-06-25T18:33:48.123456789+02:00'), parseTime('2019-06-25T16:33:48.123456789Z'));
  assert.equal(parseTime('0001-01-01T00:00:00Z'), -62135596800n * 1_000_000_000n);
  assert.match(formatTime(1561480428000000000n), /^2019-06-2\dT\d\d:33:48(Z|[+-]\d\d:\d\d)$/);
});

it('local times round-trip through every minute of DST changes, in zones with odd offsets too', () => {
  // In a child process per zone: the offset cache belongs to the process, and TZ is read at start.
  const script = `
    import { formatTime, parseTime } from ${JSON.stringify(new URL('./gojson.js', import.meta.url).href)};
    let bad = 0;
    for (const day of [Date.UTC(2026, 2, 7), Date.UTC(2026, 2, 28), Date.UTC(2026, 3, 4), Date.UTC(2026, 9, 3), Date.UTC(2026, 9, 24)]) {
      for (let m = 0; m < 4 * 1440; m++) {
        const ms = day + m * 60_000;
        const s = formatTime(BigInt(ms) * 1_000_000n + 5n);
        const o = -new Date(ms).getTimezoneOffset();
        const zone = o === 0 ? 'Z' : (o < 0 ? '-' : '+') + String(Math.floor(Math.abs(o) / 60)).padStart(2, '0') + ':' + String(Math.abs(o) % 60).padStart(2, '0');
        if (parseTime(s) !== BigInt(ms) * 1_000_000n + 5n || !s.endsWith(zone)) bad++;
      }
    }
    process.stdout.write(String(bad));`;
  for (const tz of ['America/New_York', 'Europe/Paris', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'UTC']) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '0', `${tz}: times that did not round-trip`);
  }
});

it('reads Go\'s time layout digit by digit exactly as the general way reads it, and refuses the same', () => {
  // The general way: a regular expression and a Date (what parseTime did for every time before).
  const general = (s: string): bigint | 'refused' => {
    const m = /^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
    if (!m) return 'refused';
    const [, y, mo, d, h, mi, se, frac = '', zone] = m;
    const dt = new Date(0);
    dt.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
    dt.setUTCHours(Number(h), Number(mi), Number(se), 0);
    const off = zone === 'Z' ? 0 : (zone!.startsWith('-') ? -1 : 1) * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
    return BigInt(Math.round((dt.getTime() - off * 60_000) / 1000)) * 1_000_000_000n + BigInt(frac.padEnd(9, '0') || '0');
  };
  const fast = (s: string): bigint | 'refused' => {
    try {
      return parseTime(s);
    } catch {
      return 'refused';
    }
  };
  const pad = (v: number, n: number) => String(v).padStart(n, '0');
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const cases = [
    '2019-06-25T18:33:48.123456789+02:00', '2019-02-29T00:00:00Z', '2020-02-31T23:59:59.5-11:30', '0000-03-01T00:00:00Z',
    '1969-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59Z', '2019-06-25T24:00:00Z', '2019-06-25T12:00:60Z', '2019-13-01T00:00:00Z',
    '2019-00-10T00:00:00Z', '2019-06-25T18:33:48.Z', '2019-06-25T18:33:48.1234567891Z', '2019-06-25T18:33:48', '12019-06-25T18:33:48Z',
    '-0001-06-25T18:33:48Z', '2019-06-25 18:33:48Z', '2019-06-25T18:33:48+0200', '2019-06-25T18:33:48z', '２019-06-25T18:33:48Z',
  ];
  for (let i = 0; i < 3000; i++) {
    const frac = rnd(3) === 0 ? '' : '.' + pad(rnd(1e9), 9).slice(0, 1 + rnd(9));
    const zone = rnd(3) === 0 ? 'Z' : `${rnd(2) ? '+' : '-'}${pad(rnd(15), 2)}:${pad(rnd(60), 2)}`;
    cases.push(`${pad(rnd(10000), 4)}-${pad(1 + rnd(12), 2)}-${pad(1 + rnd(31), 2)}T${pad(rnd(24), 2)}:${pad(rnd(60), 2)}:${pad(rnd(60), 2)}${frac}${zone}`);
  }
  for (const s of cases) assert.equal(fast(s), general(s), s);
  const parts = parseTimeParts('1969-12-31T23:59:58.25Z');
  assert.deepEqual(parts, { sec: -2, nsec: 250_000_000 });
});
