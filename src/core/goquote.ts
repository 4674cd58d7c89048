/**
 * restic stores a node's name Go-quoted inside the JSON string: `MarshalJSON` writes
 * `strconv.Quote(name)` without its outer quotes, and `UnmarshalJSON` runs `strconv.Unquote` on it,
 * failing the whole tree ("Unquote: invalid syntax") when that is not valid Go syntax. So a name
 * `a"b` is stored as the JSON string `"a\\\"b"`, a newline as `\\n`, U+2028 as `\\u2028`.
 * These two functions are Go's `strconv.Quote` (minus the outer quotes) and `strconv.Unquote`.
 */

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols, and the ASCII space only.
const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

const shortEscapes: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** strconv.Quote(s) without the surrounding quotes. */
export function goQuoteInner(s: string): string {
  if (/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(s)) return s; // printable ASCII without `"` or `\`
  let out = '';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (r < 0x80 ? r >= 0x20 && r < 0x7f : printable.test(ch)) out += ch;
    else if (shortEscapes[r]) out += shortEscapes[r];
    else if (r < 0x20 || r === 0x7f) out += `\\x${hex(r, 2)}`;
    else if (r >= 0xd800 && r <= 0xdfff) out += '\\ufffd'; // a lone surrogate: Go would see invalid UTF-8
    else if (r < 0x10000) out += `\\u${hex(r, 4)}`;
    else out += `\\U${hex(r, 8)}`;
  }
  return out;
}

/**
 * strconv.Unquote(`"` + s + `"`); undefined when that is not valid Go syntax. `\x` and octal escapes
 * are bytes and are decoded as UTF-8 together with their neighbours.
 */
export function goUnquoteInner(s: string): string | undefined {
  if (!s.includes('\\')) return s.includes('"') || s.includes('\n') ? undefined : s;
  const bytes: number[] = [];
  const pushText = (t: string) => bytes.push(...Buffer.from(t, 'utf8'));
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"' || c === '\n') return undefined;
    if (c !== '\\') {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      pushText(ch);
      i += ch.length;
      continue;
    }
    const e = s[i + 1];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };
    if (e !== undefined && simple[e] !== undefined) {
      pushText(simple[e]!);
      i += 2;
    } else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      bytes.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (e !== undefined && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4)) && parseInt(s.slice(i + 1, i + 4), 8) < 256) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 4;
    } else if ((e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) || (e === 'U' && /^[0-9a-fA-F]{8}$/.test(s.slice(i + 2, i + 10)))) {
      const n = e === 'u' ? 4 : 8;
      const cp = parseInt(s.slice(i + 2, i + 2 + n), 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
      pushText(String.fromCodePoint(cp));
      i += 2 + n;
    } else return undefined;
  }
  return Buffer.from(bytes).toString('utf8');
}
