// Turns per-round results into medians, a human table, a Markdown table and the failure list.
import { MIB } from './config.mjs';

// Each row: the metric key, the case whose failure blanks it, its unit and which direction is better.
const ROWS = [
  { key: 'first_mibps', step: 'first', label: (c) => `first backup, ${c.lib}`, unit: 'MiB/s', better: 'higher' },
  { key: 'nochange_s', step: 'nochange', label: () => 'backup, nothing changed', unit: 's', better: 'lower' },
  { key: 'mutate_s', step: 'mutate', label: () => 'backup after mutate', unit: 's', better: 'lower' },
  { key: 'mutate_added', step: 'mutate', label: () => 'repo growth from that backup', unit: 'MiB', div: MIB, better: 'lower' },
  { key: 'restore_mibps', step: 'restore', label: () => 'restore latest (verified)', unit: 'MiB/s', better: 'higher' },
  { key: 'check_mibps', step: 'check', label: () => 'check --read-data', unit: 'MiB/s', better: 'higher' },
  { key: 'files_first_s', step: 'files-first', label: (c) => `first backup, ${c.files}`, unit: 's', better: 'lower' },
  { key: 'files_nochange_s', step: 'files-nochange', label: (c) => `no-change backup, ${c.files}`, unit: 's', better: 'lower' },
  { key: 'files_restore_s', step: 'files-restore', label: (c) => `restore, ${c.files} (verified)`, unit: 's', better: 'lower' },
  { key: 'repo_first', step: 'first', label: () => 'repo size after first backup', unit: 'MiB', div: MIB, better: 'lower' },
  { key: 'repo_mutate', step: 'mutate', label: () => 'repo size after mutate backup', unit: 'MiB', div: MIB, better: 'lower' },
];

// Peak RSS of every timed command, in its own table.
const RSS_ROWS = [
  ['first_rss', 'first', 'first backup'], ['nochange_rss', 'nochange', 'no-change backup'],
  ['mutate_rss', 'mutate', 'backup after mutate'], ['restore_rss', 'restore', 'restore'],
  ['check_rss', 'check', 'check --read-data'], ['files_first_rss', 'files-first', 'first backup, small files'],
  ['files_nochange_rss', 'files-nochange', 'no-change backup, small files'], ['files_restore_rss', 'files-restore', 'restore, small files'],
].map(([key, step, label]) => ({ key, step, label: () => `peak RSS: ${label}`, unit: 'MiB', div: 1024, better: 'lower' }));

const caseOf = (step) => (step.startsWith('files') ? 'files' : step);

export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** { tool: { key: { median, min, max, n, failed } } } over all rounds. */
export function summarize(rounds, tools) {
  const out = {};
  for (const tool of tools) {
    out[tool] = {};
    for (const row of [...ROWS, ...RSS_ROWS]) {
      const values = rounds.map((r) => r.results[tool]?.metrics[row.key]).filter((x) => typeof x === 'number');
      const failed = rounds.filter((r) => r.results[tool]?.errors[row.step]).length;
      // min/max stay in the JSON to judge noise (a shared 2-core machine swings by tens of percent).
      out[tool][row.key] = { median: median(values), min: values.length ? Math.min(...values) : null,
        max: values.length ? Math.max(...values) : null, n: values.length, failed };
    }
  }
  return out;
}

function fmt(value, div = 1) {
  if (value === null || value === undefined) return '-';
  const v = value / div;
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function cell(m, div) {
  if (!m || (m.median === null && !m.failed)) return '-';
  if (m.median === null) return 'FAIL';
  return fmt(m.median, div) + (m.failed ? ` (${m.failed} failed)` : '');
}

function ratio(a, b) {
  if (!a || !b || a.median === null || b.median === null || b.median === 0) return '-';
  return `${(a.median / b.median).toFixed(2)}x`;
}

/** Rows of strings: header first. Only cases that were asked for appear. */
export function tableRows(results) {
  const { tools, cases, corpora, medians } = results;
  const others = tools.includes('keepsake') ? tools.filter((t) => t !== 'keepsake') : [];
  const labels = {
    lib: corpora.library ? `${fmt(corpora.library.bytes, 1024 * MIB)} GiB` : 'library',
    files: corpora.files ? `${corpora.files.files.toLocaleString('en-US')} files` : 'small files',
  };
  const head = ['measure', 'unit', 'better', ...tools, ...others.map((o) => `keepsake/${o}`)];
  const rows = [head];
  for (const row of [...ROWS, ...RSS_ROWS]) {
    if (!cases.includes(caseOf(row.step))) continue;
    if (row.key.endsWith('_rss') && !tools.some((t) => medians[t][row.key].median !== null)) continue;
    rows.push([row.label(labels), row.unit, row.better,
      ...tools.map((t) => cell(medians[t][row.key], row.div)),
      ...others.map((o) => ratio(medians.keepsake[row.key], medians[o][row.key]))]);
  }
  return rows;
}

export function humanTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export function markdownTable(rows) {
  const line = (r) => `| ${r.join(' | ')} |`;
  const align = rows[0].map((_, i) => (i === 0 ? ':---' : '---:'));
  return [line(rows[0]), line(align), ...rows.slice(1).map(line)].join('\n');
}

/** One entry per tool and failed step (first round it failed in), with the log tail. */
export function failures(results) {
  const seen = new Set();
  const out = [];
  let skipped = 0;
  for (const r of results.rounds) {
    for (const [tool, { errors }] of Object.entries(r.results)) {
      for (const [step, e] of Object.entries(errors)) {
        if (e.message.startsWith('skipped:')) { skipped++; continue; } // follows from a failure listed anyway
        if (seen.has(`${tool}/${step}`)) continue;
        seen.add(`${tool}/${step}`);
        out.push(`${tool} ${step} (round ${r.round}): ${e.message}${e.logTail ? `\n${e.logTail.replace(/^/gm, '    | ')}` : ''}`);
      }
    }
  }
  if (skipped) out.push(`(${skipped} step(s) skipped because a step they build on failed)`);
  return out;
}

// Ratios depend on the processor (the crypto primitives' speeds differ between CPUs): say which.
function machineNote(m) {
  if (!m) return [];
  const disk = m.disk ? `, ${m.disk.fsType} at ${m.disk.tmpParent}` : '';
  return [`machine: ${m.cpus} cores, ${m.cpuModel}, ${m.memoryGiB} GiB${disk}, node ${m.node}`];
}

// A 1-minute load above ~1 before the run means other work was competing for the CPU (the load
// after the run mostly reflects the bench itself, so it is shown but not judged).
function loadNote(load) {
  if (!load) return [];
  const fmtLoad = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const busy = load.before[0] > 1 ? ' -- machine was busy: treat the numbers with care' : '';
  return [`load average before: ${fmtLoad(load.before)}, after: ${fmtLoad(load.after)}${busy}`];
}

// The scrypt parameters each tool's init chose (the first round's; older results have none).
function kdfNote(results) {
  const first = results.rounds[0]?.results ?? {};
  const kdfs = Object.entries(first).filter(([, r]) => r.kdf).map(([tool, { kdf }]) => `${tool} N=${kdf.N} r=${kdf.r} p=${kdf.p}`);
  return kdfs.length ? [`key derivation (scrypt, once per command): ${kdfs.join('; ')}`] : [];
}

// Runs from before BENCH_WARM existed did not warm and recorded nothing: no line for them.
function warmNote(warmed) {
  if (warmed === undefined) return [];
  return [warmed
    ? 'restores: memory warmed first (as much data as each restores, written and deleted in its target)'
    : 'restores: memory not warmed first (BENCH_WARM=0)'];
}

export function renderAll(results, { markdown }) {
  const rows = tableRows(results);
  const parts = [
    `keepsake bench: scale ${results.scale}, ${results.rounds.length} round(s), medians; ` +
      `ratios are keepsake's value divided by the other tool's ("better" says which direction wins)`,
    ...machineNote(results.machine),
    ...loadNote(results.machine?.loadavg),
    ...kdfNote(results),
    ...warmNote(results.restoresWarmed),
    '',
    humanTable(rows),
  ];
  const failed = failures(results);
  if (failed.length) parts.push('', 'failures:', ...failed);
  if (markdown) parts.push('', markdownTable(rows));
  return parts.join('\n');
}
