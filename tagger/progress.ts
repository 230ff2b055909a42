// The progress line on stderr: clips done / total, clips per second, ETA.
// On a terminal it redraws in place a few times a second; into a file or a
// pipe it writes a line every ~10% so that logs stay short.

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  width?: number;
  now?: () => number;
  /** Messages only, no bar (--no-progress). */
  silent?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  const [h, m, r] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const mm = String(m).padStart(2, "0");
  const ss = String(r).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class Progress {
  private done = 0;
  private failed = 0;
  private readonly started: number;
  private lastDraw = -Infinity;
  private lastDecile = -1;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly width: number;
  private readonly now: () => number;
  private readonly silent: boolean;

  constructor(
    private readonly total: number,
    { stream = process.stderr, width = 30, now = () => performance.now(), silent = false }: ProgressOptions = {},
  ) {
    this.stream = stream;
    this.silent = silent;
    this.tty = !silent && Boolean(stream.isTTY);
    this.width = width;
    this.now = now;
    this.started = now();
  }

  /** Clips per second so far. */
  get rate(): number {
    const seconds = (this.now() - this.started) / 1000;
    return seconds > 0 ? (this.done + this.failed) / seconds : 0;
  }

  line(): string {
    const finished = this.done + this.failed;
    const share = this.total > 0 ? finished / this.total : 1;
    const filled = Math.round(share * this.width);
    const eta = this.rate > 0 ? (this.total - finished) / this.rate : Infinity;
    const failed = this.failed > 0 ? `, ${this.failed} failed` : "";
    return `[${"#".repeat(filled)}${".".repeat(this.width - filled)}] ${finished}/${this.total} clips${failed}  ${this.rate.toFixed(1)} clips/s  ETA ${formatDuration(eta)}`;
  }

  add(done: number, failed = 0): void {
    this.done += done;
    this.failed += failed;
    this.draw(false);
  }

  /** Messages (a video's problem, a file written) go above the bar. */
  log(message: string): void {
    if (this.tty) this.stream.write("\r\x1b[2K");
    this.stream.write(`${message}\n`);
    if (this.tty) this.draw(true);
  }

  finish(): void {
    if (this.silent) return;
    this.draw(this.tty);
    if (this.tty) this.stream.write("\n");
  }

  private draw(force: boolean): void {
    if (this.silent) return;
    const t = this.now();
    if (this.tty) {
      if (!force && t - this.lastDraw < 200) return;
      this.lastDraw = t;
      this.stream.write(`\r\x1b[2K${this.line()}`);
      return;
    }
    const decile = this.total > 0 ? Math.floor((10 * (this.done + this.failed)) / this.total) : 10;
    if (!force && decile === this.lastDecile) return;
    this.lastDecile = decile;
    this.stream.write(`${this.line()}\n`);
  }
}
