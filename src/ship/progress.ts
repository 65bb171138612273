// A progress bar on stderr for --once on a terminal: bytes shipped of bytes to ship, and the rate.
import { formatSize } from '../common/units';
import type { Input } from './input/input';
import type { Pipeline } from './pipeline';

export class Progress {
  private readonly timer: NodeJS.Timeout;
  private readonly started = Date.now();

  constructor(
    private readonly input: Input,
    private readonly pipeline: Pipeline,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.draw();
    this.out.write('\n');
  }

  private draw(): void {
    const shipped = this.pipeline.settledBytes;
    // Bytes still to read in open files plus what has been read: the total grows if files grow.
    const toRead = this.input.open().reduce((sum, t) => sum + Math.max(0, t.size - t.pos), 0);
    const total = Math.max(1, this.pipeline.bytesReadTotal + toRead);
    const ratio = Math.min(1, shipped / total);
    const width = 30;
    const filled = Math.round(ratio * width);
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? Math.round(this.pipeline.linesRead / secs) : 0;
    this.out.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ` +
        `${formatSize(shipped)} of ${formatSize(total)}  ${rate} lines/s   `,
    );
  }
}
