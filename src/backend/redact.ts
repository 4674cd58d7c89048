/**
 * Keeping secrets out of what users see. A repository string may carry a password (`rest:` URLs with
 * `user:pass@`), and a server's error text may echo what it was sent; both pass through here before
 * they become a `location` or an error message.
 */

/** The repository string with any password in a URL replaced by `***`. */
export function redactLocation(location: string): string {
  // user:pass@ right after `scheme://` (rest:http://u:p@host/, s3:https://ak:sk@host/b). Only the part
  // before the first `/` after the scheme is userinfo, so `@` later in a path is left alone.
  return location.replace(/^((?:[a-z0-9]+:)?[a-z][a-z0-9+.-]*:\/\/)([^/@?#]*)@/i, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

/** `text` with every occurrence of each secret (and its URL-encoded form) replaced by `***`. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    // Very short secrets would blank out ordinary words; they are weak anyway, and never shown alone.
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('***');
  }
  return out;
}
