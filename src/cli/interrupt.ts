/**
 * Ctrl-C (or SIGTERM) during a long command: the first asks the work to stop cleanly (what was
 * uploaded is kept and indexed), the second quits at once.
 */
import { type Ctx } from './context.js';
import { ExitCode } from './exit.js';

export interface Interrupt {
  readonly signal: AbortSignal;
  dispose(): void;
}

export function onInterrupt(ctx: Ctx, what: string): Interrupt {
  const abort = new AbortController();
  const handler = () => {
    if (abort.signal.aborted) process.exit(ExitCode.interrupted);
    ctx.note(`\ninterrupted: ${what} (Ctrl-C again to quit at once)`);
    abort.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: abort.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
