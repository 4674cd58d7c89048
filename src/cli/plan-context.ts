/** The plan file of a command: --config (global), KEEPSAKE_CONFIG, or the user's config folder. */
import { type Command } from 'commander';
import { type PlanEnv } from '../app/plan.js';
import { configPath } from '../plan/basics.js';
import { retryReporter } from './context.js';

export function planFile(cmd: Command): string {
  return configPath(process.env, cmd.optsWithGlobals<{ config?: string }>().config);
}

export function planEnv(quiet: boolean): PlanEnv {
  return { env: process.env, onRetry: retryReporter(quiet) };
}
