/** The scan of a backup's folders, in a module of its own: it starts before the heavy ones load. */
import { Scanner } from '../core/scanner.js';

/**
 * A scan of the folders to back up that starts while the repositories open, when the first key
 * derivation starts (pass `onKeyDerivation` to RepoRef or PlanEnv): the scan only stats, and scrypt
 * runs on a thread of its own and leaves the main thread idle. Until `opened()` it scans on the main
 * thread; what is left then is shared between worker threads and the main thread.
 */
export class EarlyScan {
  private scan?: Promise<Scanner>;
  private taken = false;
  private release!: () => void;
  private readonly open = new Promise<void>((r) => (this.release = r));

  constructor(private readonly paths: string[]) {}

  /** Starts the scan, just after the derivation has been set going. */
  readonly onKeyDerivation = (): void =>
    queueMicrotask(() => {
      if (this.scan) return;
      this.scan = new Scanner(true).scanPaths(this.paths, { mainThreadUntil: this.open });
      this.scan.catch(() => undefined); // if no repository opens, nobody awaits it
    });

  /** A repository that will use the scan is open. Without it, the scan stays on the main thread. */
  opened(): void {
    this.release();
  }

  /** The scan, once (undefined if it never started): a backup then needs no scan of its own. */
  take(): Promise<Scanner> | undefined {
    if (this.taken) return undefined;
    this.taken = true;
    return this.scan;
  }
}
