/** Locks of other runs, for tests: what another machine's backup or prune leaves in `locks/`. */
import os from 'node:os';
import { formatTime, goJson, nowNanos } from './gojson.js';
import { type Repository } from './repository.js';

/** A lock another live process holds: another host, so neither staleness rule applies unless it is old. */
export async function foreignLock(r: Repository, exclusive: boolean, ageNs = 0n): Promise<string> {
  return r.saveUnpacked('lock', Buffer.from(goJson({
    time: formatTime(nowNanos() - ageNs), exclusive, hostname: `not-${os.hostname()}`, username: 'ann', pid: 4242,
  })));
}
