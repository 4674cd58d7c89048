/**
 * Where the plan lives and the words it uses: kept apart from config.ts (and zod) so the CLI can
 * register its commands without loading the plan's parser.
 */
import path from 'node:path';

export function configPath(env: NodeJS.ProcessEnv, override?: string): string {
  if (override) return path.resolve(override);
  if (env.KEEPSAKE_CONFIG) return path.resolve(env.KEEPSAKE_CONFIG);
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME ?? '/', '.config');
  return path.join(base, 'keepsake', 'keepsake.toml');
}

export const mediaKinds = ['internal-disk', 'external-drive', 'nas', 'cloud'] as const;
export type Media = (typeof mediaKinds)[number];
export const rhythms = ['daily', 'weekly', 'monthly'] as const;
export type Rhythm = (typeof rhythms)[number];
