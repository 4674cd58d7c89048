import assert from 'node:assert/strict';
import { it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { formatTime, goJson, goString, parseJson, parseTime } from './gojson.js';

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
