/**
 * Retention policies with restic's `forget` semantics: snapshots are grouped by host and paths; in
 * each group, newest first, a snapshot is kept when a rule still has budget and the snapshot falls in
 * a new bucket (day, week, …) for that rule. Buckets use local time, as restic does.
 * Attic snapshots (tag `attic`) hold the last copy of deleted photos and are never selected here.
 */
import { snapshotTime, newestFirst, type StoredSnapshot } from './snapshot.js';

export const atticTag = 'attic';

export interface RetentionPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
}

export interface ForgetPlan {
  keep: StoredSnapshot[];
  remove: StoredSnapshot[];
  /** Why each kept snapshot is kept, by ID (`last`, `daily`, …, or `attic`). */
  reasons: Map<string, string[]>;
}

export function isAttic(s: StoredSnapshot): boolean {
  return s.tags?.includes(atticTag) ?? false;
}

export function emptyPolicy(p: RetentionPolicy): boolean {
  return !p.last && !p.daily && !p.weekly && !p.monthly && !p.yearly;
}

/** ISO-8601 week number (restic's keep-weekly buckets by year*100+week). */
function isoWeek(d: Date): number {
  const t = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const dayNum = (t.getDay() + 6) % 7;
  t.setDate(t.getDate() - dayNum + 3);
  const firstThursday = new Date(t.getFullYear(), 0, 4);
  const week = 1 + Math.round(((t.getTime() - firstThursday.getTime()) / 86_400_000 - 3 + ((firstThursday.getDay() + 6) % 7)) / 7);
  return t.getFullYear() * 100 + week;
}

type Bucket = (s: StoredSnapshot, d: Date) => string | number;
const buckets: [keyof RetentionPolicy, Bucket][] = [
  ['last', (s) => s.id],
  ['daily', (_s, d) => d.getFullYear() * 10000 + (d.getMonth() + 1) * 100 + d.getDate()],
  ['weekly', (_s, d) => isoWeek(d)],
  ['monthly', (_s, d) => d.getFullYear() * 100 + d.getMonth() + 1],
  ['yearly', (_s, d) => d.getFullYear()],
];

export function groupKey(s: StoredSnapshot): string {
  return `${s.hostname ?? ''}\0${[...s.paths].sort().join('\0')}`;
}

export function applyPolicy(snapshots: readonly StoredSnapshot[], policy: RetentionPolicy): ForgetPlan {
  const keep: StoredSnapshot[] = [];
  const remove: StoredSnapshot[] = [];
  const reasons = new Map<string, string[]>();
  const groups = new Map<string, StoredSnapshot[]>();
  for (const s of snapshots) {
    if (isAttic(s)) {
      keep.push(s);
      reasons.set(s.id, ['attic']);
      continue;
    }
    const g = groups.get(groupKey(s)) ?? [];
    g.push(s);
    groups.set(groupKey(s), g);
  }
  for (const group of groups.values()) {
    group.sort(newestFirst);
    const budget = new Map(buckets.map(([k]) => [k, policy[k] ?? 0]));
    const lastBucket = new Map<string, string | number>();
    for (const s of group) {
      const d = new Date(Number(snapshotTime(s) / 1_000_000n));
      const why: string[] = [];
      for (const [rule, bucket] of buckets) {
        const left = budget.get(rule)!;
        if (left === 0) continue;
        const b = bucket(s, d);
        if (lastBucket.get(rule) === b) continue;
        lastBucket.set(rule, b);
        budget.set(rule, left - 1);
        why.push(rule);
      }
      if (why.length > 0) {
        keep.push(s);
        reasons.set(s.id, why);
      } else remove.push(s);
    }
  }
  return { keep, remove, reasons };
}
