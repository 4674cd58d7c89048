/** Names of users and groups by ID, as restic records them in tree nodes (from /etc/passwd, /etc/group). */
import { readFileSync } from 'node:fs';

function load(file: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[0]) {
        const id = Number(f[2]);
        if (Number.isInteger(id) && !m.has(id)) m.set(id, f[0]);
      }
    }
  } catch {
    // No such database (containers, Windows): names stay empty, as restic leaves them.
  }
  return m;
}

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

export function userName(uid: number): string {
  users ??= load('/etc/passwd');
  return users.get(uid) ?? '';
}

export function groupName(gid: number): string {
  groups ??= load('/etc/group');
  return groups.get(gid) ?? '';
}
