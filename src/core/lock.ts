/**
 * Repository locks, with restic's rules: backups take a shared lock, prune an exclusive one; a lock
 * is refreshed every 5 minutes and is stale after 30 minutes without refresh, or at once when it was
 * taken on this host by a process that no longer exists.
 */
import os from 'node:os';
import { isNotFound } from '../backend/backend.js';
import { KeepsakeError } from './errors.js';
import { formatTime, goJson, nowNanos, parseTime } from './gojson.js';
import { type ID } from './hash.js';
import { type Repository } from './repository.js';
import { firstProblem, isBoolean, isInt, isString, type Fields } from './shape.js';

interface LockInfo {
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
  uid?: number;
  gid?: number;
}

const lockShape: Fields = {
  time: isString,
  exclusive: isBoolean,
  hostname: isString,
  username: isString,
  pid: isInt,
  uid: [isInt, 'optional'],
  gid: [isInt, 'optional'],
};

const staleAfterNs = 30n * 60n * 1_000_000_000n;
const refreshEveryMs = 5 * 60 * 1000;

export interface LockOptions {
  exclusive: boolean;
  /**
   * Pause between creating our lock and checking again for a competing one: by default none where
   * the backend's listings show a file at once (a local disk), else 200 ms, as restic.
   */
  settleMs?: number;
  /**
   * Return as soon as our lock file exists; the second check runs in the background and `ready`
   * settles with it. The caller may read meanwhile but must await `ready` before writing anything.
   */
  early?: boolean;
  /**
   * Remove stale locks of dead processes on this host and report them as `recoveredStale`. Only a
   * backup should: such a lock is the one mark of an interrupted run, whose uploaded packs the
   * backup then indexes. Other commands ignore stale locks, as restic does, and leave the mark.
   */
  removeStale?: boolean;
}

export interface Lock {
  /** True if a stale lock of a dead process on this host was found and removed: a run was cut off. */
  readonly recoveredStale: boolean;
  /** Resolves once no competing lock appeared; rejects (and our lock is gone) if one did. */
  readonly ready: Promise<void>;
  release(): Promise<void>;
}

/** Whether a process of this machine is running (a process of another user counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(l: LockInfo): boolean {
  try {
    if (nowNanos() - parseTime(l.time) > staleAfterNs) return true;
  } catch {
    return true;
  }
  return l.hostname === os.hostname() && l.pid !== process.pid && !processAlive(l.pid);
}

async function readLocks(repo: Repository, except: ID | undefined): Promise<{ id: ID; info: LockInfo | undefined }[]> {
  const out: { id: ID; info: LockInfo | undefined }[] = [];
  for (const id of await repo.list('lock')) {
    if (id === except) continue;
    try {
      const raw = JSON.parse((await repo.loadUnpacked('lock', id)).toString('utf8'));
      out.push({ id, info: firstProblem(raw, lockShape) ? undefined : (raw as LockInfo) });
    } catch (err) {
      if (isNotFound(err)) continue; // released meanwhile
      out.push({ id, info: undefined });
    }
  }
  return out;
}

function describe(l: LockInfo): string {
  return `${l.exclusive ? 'an exclusive' : 'a'} lock held by PID ${l.pid} on ${l.hostname} (user ${l.username}) since ${l.time}`;
}

/** Throws if a live lock conflicts; returns the stale locks of this host. */
async function conflicts(repo: Repository, exclusive: boolean, ours: ID | undefined): Promise<{ staleHere: ID[] }> {
  const staleHere: ID[] = [];
  for (const { id, info } of await readLocks(repo, ours)) {
    if (!info) continue; // unreadable locks are ignored, as restic does
    if (isStale(info)) {
      if (info.hostname === os.hostname()) staleHere.push(id);
      continue;
    }
    if (exclusive || info.exclusive) {
      throw new KeepsakeError('locked', `the repository is in use: ${describe(info)}`, {
        hint: 'wait for the other run to finish; if it crashed on another machine, its lock expires 30 minutes after its last refresh',
      });
    }
  }
  return { staleHere };
}

export async function acquireLock(repo: Repository, opts: LockOptions): Promise<Lock> {
  const first = await conflicts(repo, opts.exclusive, undefined);
  const info = (): Buffer => Buffer.from(goJson({
    time: formatTime(nowNanos()),
    exclusive: opts.exclusive,
    hostname: os.hostname(),
    username: os.userInfo().username,
    pid: process.pid,
    uid: process.getuid?.() || undefined,
    gid: process.getgid?.() || undefined,
  }));
  let id = await repo.saveUnpacked('lock', info());
  // Only now that our own lock marks this run: a kill right here must not lose the mark.
  const removeStale = opts.removeStale === true && first.staleHere.length > 0;
  if (removeStale) for (const stale of first.staleHere) await repo.backend.remove({ type: 'lock', name: stale }).catch(() => undefined);
  const timer = setInterval(() => {
    void (async () => {
      const fresh = await repo.saveUnpacked('lock', info());
      const old = id;
      id = fresh;
      await repo.backend.remove({ type: 'lock', name: old });
    })().catch(() => undefined);
  }, refreshEveryMs);
  timer.unref();
  // Whoever of two runs creates its lock last sees the other's when it checks again, if listings
  // show a file once it is written; the pause is for storage whose listings lag behind.
  const settleMs = opts.settleMs ?? ((await repo.backend.immediateListing?.()) ? 0 : 200);
  const ready = (async () => {
    await new Promise((r) => setTimeout(r, settleMs));
    try {
      await conflicts(repo, opts.exclusive, id);
    } catch (err) {
      clearInterval(timer);
      await repo.backend.remove({ type: 'lock', name: id });
      throw err;
    }
  })();
  ready.catch(() => undefined); // observed by the caller through `ready`
  if (!opts.early) await ready;
  return {
    recoveredStale: removeStale,
    ready,
    async release() {
      clearInterval(timer);
      await repo.backend.remove({ type: 'lock', name: id });
    },
  };
}

/**
 * Remove stale locks (restic's `unlock`): those not refreshed for 30 minutes, and those of dead
 * processes on this host. With `all`, every lock, live or not. Returns how many were removed.
 */
export async function removeStaleLocks(repo: Repository, all = false): Promise<number> {
  let n = 0;
  for (const { id, info } of await readLocks(repo, undefined)) {
    if (all || !info || isStale(info)) {
      await repo.backend.remove({ type: 'lock', name: id });
      n++;
    }
  }
  return n;
}
