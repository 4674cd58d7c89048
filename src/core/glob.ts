/**
 * Shell-style patterns for selecting files in a snapshot: `*` and `?` stay within one path
 * component, `**` crosses components, `[abc]` is a class. A pattern without `/` matches the base name.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export class PathMatcher {
  private readonly res: { re: RegExp; base: boolean }[];
  constructor(patterns: string[]) {
    this.res = patterns.map((p) => ({ re: globToRegExp(p.replace(/\/+$/, '')), base: !p.includes('/') }));
  }

  get empty(): boolean {
    return this.res.length === 0;
  }

  /** True if `p` (absolute, `/`-separated) or one of its parent folders matches. */
  matches(p: string): boolean {
    const parts = p.split('/');
    for (const { re, base } of this.res) {
      if (base ? parts.some((x) => re.test(x)) : prefixes(p).some((x) => re.test(x))) return true;
    }
    return false;
  }

  /** True if something below folder `dir` could match (so the walk must go in). */
  couldMatchBelow(dir: string): boolean {
    return this.res.some(({ re, base }) => base || re.source.includes('.*') || prefixOf(re, dir));
  }
}

function prefixes(p: string): string[] {
  const out: string[] = [];
  let i = p.indexOf('/', 1);
  while (i > 0) {
    out.push(p.slice(0, i));
    i = p.indexOf('/', i + 1);
  }
  out.push(p);
  return out;
}

function prefixOf(re: RegExp, dir: string): boolean {
  // Conservative: a pattern's literal start must agree with the folder as far as both go.
  const literal = re.source.slice(1).split(/[[(.*?^$]/)[0]!.replace(/\\/g, '');
  return literal.startsWith(dir) || dir.startsWith(literal);
}
