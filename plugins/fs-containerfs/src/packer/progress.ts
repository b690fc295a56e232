/**
 * Progress of a build on stderr: a bar with files and bytes, redrawn at most 10 times a
 * second, when stderr is a terminal; otherwise one summary line per image at the end.
 */
import type { Progress } from '../format/writer';

export function humanBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

export class ProgressBar {
  private last = 0;
  private drawn = false;
  constructor(
    private readonly out: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean },
    private readonly label: string,
  ) {}

  private get tty(): boolean {
    return (this.out as { isTTY?: boolean }).isTTY === true;
  }

  update(p: Progress): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100 && p.files < p.totalFiles) return;
    this.last = now;
    const frac = p.totalBytes ? p.bytes / p.totalBytes : p.totalFiles ? p.files / p.totalFiles : 1;
    const width = 30;
    const full = Math.min(width, Math.round(frac * width));
    const bar = '#'.repeat(full) + '-'.repeat(width - full);
    this.out.write(
      `\r${this.label} [${bar}] ${p.files}/${p.totalFiles} files ${humanBytes(p.bytes)}/${humanBytes(p.totalBytes)}\x1b[K`,
    );
    this.drawn = true;
  }

  done(summary: string): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.out.write(summary + '\n');
  }
}
