// Progress of a long command: on a terminal, one line redrawn in place (a bar, counts and rate, fitted
// to the terminal's width); in a log (stderr not a terminal), a plain line every few seconds. Lines
// written through `above()` (log lines) appear above the bar without breaking it.
import { Writable } from "node:stream";

export interface ProgressState {
  fraction: number;
  text: string;
}

const BAR = 20;
const n = (v: number) => Math.round(v).toLocaleString("en-US");
export { n as formatCount };

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}

export class Progress {
  private readonly tty: boolean;
  private last?: ProgressState;
  private drawnAt = 0;
  private loggedAt = 0;
  private shown = false;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly label = "progress",
    /** Seconds between plain lines in a log. */
    private readonly logEverySeconds = 5,
  ) {
    this.tty = Boolean(out.isTTY);
    this.loggedAt = Date.now();
  }

  update(state: ProgressState, force = false): void {
    this.last = state;
    const now = Date.now();
    if (this.tty) {
      if (force || now - this.drawnAt >= 100) {
        this.draw();
        this.drawnAt = now;
      }
    } else if (force || now - this.loggedAt >= this.logEverySeconds * 1000) {
      this.out.write(`${this.label}: ${Math.floor(state.fraction * 100)}% ${state.text}\n`);
      this.loggedAt = now;
    }
  }

  /** Ends the bar's line (the bar stays, as it last was); in a log, the last state as a line. */
  done(): void {
    if (this.tty && this.shown) {
      this.draw();
      this.out.write("\n");
      this.shown = false;
    } else if (!this.tty && this.last) {
      this.out.write(`${this.label}: ${Math.floor(this.last.fraction * 100)}% ${this.last.text}\n`);
    }
  }

  /** A stream whose lines appear above the bar. */
  above(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.tty && this.shown) this.out.write("\r\x1b[K");
        this.out.write(chunk);
        if (this.tty && this.shown) this.draw();
        callback();
      },
    });
  }

  private draw(): void {
    if (!this.last) return;
    const f = Math.min(1, Math.max(0, this.last.fraction));
    const filled = Math.round(f * BAR);
    const line = `${"█".repeat(filled)}${"░".repeat(BAR - filled)} ${String(Math.floor(f * 100)).padStart(3)}%  ${this.last.text}`;
    const width = this.out.columns || 120;
    this.out.write(`\r\x1b[K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
    this.shown = true;
  }
}
