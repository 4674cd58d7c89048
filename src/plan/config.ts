/**
 * The plan: one TOML file naming the sources (folders of originals) and the destinations (restic
 * repositories, each with its kind of media, offsite flag and expected rhythm). Validated with a
 * schema on every read; written back with smol-toml, so comments in a hand-edited file are lost
 * when a command changes it (the commands say so in their help).
 */
import { readFile, stat } from 'node:fs/promises';
import { writePrivateFile } from '../util/private-file.js';
import path from 'node:path';
import { parse, stringify } from 'smol-toml';
import { z } from 'zod';
import { KeepsakeError } from '../core/errors.js';
import { configPath, mediaKinds, rhythms, type Media, type Rhythm } from './basics.js';

export { configPath, mediaKinds, rhythms, type Media, type Rhythm };

/** How long a rhythm allows between two backups before a destination is overdue. */
export const rhythmDays: Record<Rhythm, number> = { daily: 1, weekly: 7, monthly: 31 };

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'names are letters, digits, `_`, `.` and `-` (up to 64)');

const sourceSchema = z.object({
  name,
  path: z.string().min(1),
  media: z.enum(mediaKinds).default('internal-disk'),
}).strict();

const destinationSchema = z.object({
  name,
  repository: z.string().min(1),
  media: z.enum(mediaKinds),
  offsite: z.boolean().default(false),
  removable: z.boolean().default(false),
  rhythm: z.enum(rhythms).default('daily'),
  password_file: z.string().min(1).optional(),
  password_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
}).strict().refine((d) => (d.password_file === undefined) !== (d.password_env === undefined), {
  message: 'give exactly one of password_file and password_env',
});

const planSchema = z.object({
  source: z.array(sourceSchema).default([]),
  destination: z.array(destinationSchema).default([]),
}).strict();

export type Source = z.infer<typeof sourceSchema>;
export type Destination = z.infer<typeof destinationSchema>;
export interface Plan {
  source: Source[];
  destination: Destination[];
}

/** Where the plan lives: --config, then KEEPSAKE_CONFIG, then $XDG_CONFIG_HOME/keepsake/keepsake.toml. */
export function parsePlan(text: string, file: string): Plan {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new KeepsakeError('invalid-argument', `${file} is not valid TOML: ${(err as Error).message}`);
  }
  const r = planSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new KeepsakeError('invalid-argument', `${file}: ${i?.path.join('.') || 'plan'}: ${i?.message}`, {
      hint: 'fix the file, or recreate it with `keepsake source add` and `keepsake destination add`',
    });
  }
  const plan: Plan = r.data;
  for (const list of [plan.source, plan.destination]) {
    const seen = new Set<string>();
    for (const x of list) {
      if (seen.has(x.name)) throw new KeepsakeError('invalid-argument', `${file}: the name "${x.name}" is used twice`);
      seen.add(x.name);
    }
  }
  return plan;
}

/** The plan, or an empty one when the file does not exist (`required` turns that into an error). */
export async function loadPlan(file: string, opts: { required?: boolean } = {}): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (opts.required) {
      throw new KeepsakeError('not-found', `there is no plan at ${file}`, {
        hint: 'create one with `keepsake setup`, or `keepsake source add` and `keepsake destination add`',
      });
    }
    return { source: [], destination: [] };
  }
  return parsePlan(text, file);
}

export async function savePlan(file: string, plan: Plan): Promise<void> {
  const body = stringify({
    source: plan.source.map((s) => ({ ...s })),
    destination: plan.destination.map((d) => Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined))),
  });
  await writePrivateFile(file, `# keepsake plan: sources of originals and backup destinations (see \`keepsake destination --help\`)\n${body}\n`);
}

export function addSource(plan: Plan, s: Source): Plan {
  const src = sourceSchema.parse(s);
  if (plan.source.some((x) => x.name === src.name)) throw new KeepsakeError('invalid-argument', `a source named "${src.name}" already exists`);
  return { ...plan, source: [...plan.source, { ...src, path: path.resolve(src.path) }] };
}

export function addDestination(plan: Plan, d: Destination): Plan {
  const r = destinationSchema.safeParse(d);
  if (!r.success) throw new KeepsakeError('invalid-argument', `destination: ${r.error.issues[0]?.message}`);
  if (plan.destination.some((x) => x.name === d.name)) throw new KeepsakeError('invalid-argument', `a destination named "${d.name}" already exists`);
  const dest = r.data.password_file ? { ...r.data, password_file: path.resolve(r.data.password_file) } : r.data;
  return { ...plan, destination: [...plan.destination, dest] };
}

/** The password of a destination: from its file (which must be private to its owner) or its variable. */
export async function destinationPassword(d: Destination, env: NodeJS.ProcessEnv): Promise<string> {
  if (d.password_env !== undefined) {
    const pw = env[d.password_env];
    if (!pw) throw new KeepsakeError('invalid-argument', `destination ${d.name}: the variable ${d.password_env} is not set`);
    return pw;
  }
  const file = d.password_file!;
  await checkPrivate(file, d.name);
  const pw = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  if (pw === '') throw new KeepsakeError('invalid-argument', `destination ${d.name}: the password file ${file} is empty`);
  return pw;
}

export async function checkPrivate(file: string, dest: string): Promise<void> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    throw new KeepsakeError('invalid-argument', `destination ${dest}: cannot read the password file ${file}: ${(err as Error).message}`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new KeepsakeError('invalid-argument', `destination ${dest}: the password file ${file} can be read by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); refusing to use it`, {
      hint: `make it private: chmod 600 ${file}`,
    });
  }
}
