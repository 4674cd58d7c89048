/** The scan of a backup's folders, in a module of its own: it starts before the heavy ones load. */
import { Scanner } from '../core/scanner.js';

/**
 * Start scanning the folders to back up before the repository is open: the scan only stats, and it
 * overlaps the password's key derivation. Until `opened` settles it runs on the main thread, which
 * the derivation leaves idle; what is left then goes to worker threads.
 */
export function startScan(paths: string[], opened: Promise<unknown>): Promise<Scanner> {
  const scan = new Scanner(true).scanPaths(paths, { mainThreadUntil: opened });
  scan.catch(() => undefined); // if the repository cannot be opened, nobody awaits it
  return scan;
}
