// A progress bar on stderr for anything that may take more than a second:
// it appears only after one second, only on a terminal, and erases itself.
import { formatSize } from '../units.js';

export class Progress {
  private readonly started = Date.now();
  private drawn = false;
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = stream.isTTY === true,
  ) {}

  update(done: number, total: number): void {
    const now = Date.now();
    if (!this.enabled || now - this.started < 1000 || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 30;
    const filled = total > 0 ? Math.round((done / total) * width) : 0;
    const rate = done / ((now - this.started) / 1000);
    this.stream.write(
      `\r${this.label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${formatSize(done)} / ${formatSize(total)} (${formatSize(rate)}/s)`,
    );
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
