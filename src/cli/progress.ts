/** How the bar is drawn: on stderr, redrawn in place on a terminal, a line now and then elsewhere. */
export interface ProgressOptions {
  /** `--progress` / `--no-progress`; unset: only when stderr is a terminal. */
  readonly enabled: boolean | undefined;
  readonly stream?: NodeJS.WriteStream;
}

const WIDTH = 30;
const TTY_REDRAW_MS = 80;
const LOG_LINE_MS = 1_000;

/**
 * A progress bar for long work (a redrive of many letters, a replay). It never touches
 * stdout, so `--json` output stays one clean document, and it stays silent unless stderr is
 * a terminal or `--progress` asks for it.
 */
export class ProgressBar {
  private done = 0;
  private lastDraw = 0;
  private lastText = '';
  private readonly tty: boolean;

  private constructor(
    private readonly label: string,
    private total: number,
    private readonly stream: NodeJS.WriteStream | undefined,
  ) {
    this.tty = stream?.isTTY === true;
    this.draw(true);
  }

  static start(label: string, total: number, options: ProgressOptions): ProgressBar {
    const stream = options.stream ?? process.stderr;
    const enabled = options.enabled ?? stream.isTTY === true;
    return new ProgressBar(label, total, enabled ? stream : undefined);
  }

  /** `done` of `total` are finished; the total may grow (a replay's lag is learnt as it goes). */
  update(done: number, total = this.total): void {
    this.total = Math.max(total, done);
    this.done = done;
    this.draw(false);
  }

  finish(): void {
    this.draw(true);
    if (this.stream && this.tty) this.stream.write('\n');
  }

  private draw(force: boolean): void {
    if (!this.stream) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < (this.tty ? TTY_REDRAW_MS : LOG_LINE_MS)) return;
    this.lastDraw = now;
    const share = this.total === 0 ? 1 : Math.min(1, this.done / this.total);
    const filled = Math.round(share * WIDTH);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}`;
    const text = `${this.label} [${bar}] ${this.done}/${this.total} ${Math.round(share * 100)}%`;
    if (text === this.lastText) return;
    this.lastText = text;
    this.stream.write(this.tty ? `\r${text}\x1b[K` : `${text}\n`);
  }
}
