/**
 * Progress on stderr: a single redrawn line on a terminal, a plain line every 10 seconds otherwise
 * (logs of scheduled runs stay readable), nothing with --json or --quiet.
 */
import { bytes, count, duration } from './format.js';

export interface ProgressState {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** False while totals are still growing (the scan is running). */
  totalsFinal: boolean;
}

export class ProgressLine {
  private readonly started = Date.now();
  private last: number;
  private readonly tty: boolean;

  constructor(private readonly label: string, private readonly enabled: boolean, private readonly out = process.stderr) {
    this.tty = Boolean(out.isTTY);
    // In a log, the first line comes after 10 seconds: short runs print only their summary.
    this.last = this.tty ? 0 : this.started;
  }

  update(p: ProgressState): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < (this.tty ? 200 : 10_000)) return;
    this.last = now;
    const line = this.render(p, now);
    if (this.tty) this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns ?? 100) - 1)}`);
    else this.out.write(`${line}\n`);
  }

  private render(p: ProgressState, now: number): string {
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? p.bytesDone / secs : 0;
    const left = p.totalsFinal && rate > 0 ? (p.bytesTotal - p.bytesDone) / rate : NaN;
    const pct = p.bytesTotal > 0 ? ` ${((100 * p.bytesDone) / p.bytesTotal).toFixed(1)}%` : '';
    const tot = p.totalsFinal ? '' : '+';
    return `${this.label} [${duration(secs)}]${pct}  ${count(p.filesDone)}/${count(p.filesTotal)}${tot} files  ` +
      `${bytes(p.bytesDone)}/${bytes(p.bytesTotal)}${tot}  ${bytes(rate)}/s  ETA ${p.totalsFinal ? duration(left) : '…'}`;
  }

  done(): void {
    if (this.enabled && this.tty) this.out.write('\r\x1b[2K');
  }
}
