/**
 * Progress bar with counts and ETA on stderr: redrawn in place on a terminal, one line at most
 * every few seconds otherwise (logs stay readable). The ETA counts only cells done in this process
 * (skipped, already-stored cells are not work).
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #total = 0;
  #done = 0;
  #worked = 0;
  #workStartedAt = 0;
  #lastPrint = 0;
  #label = "";

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
  }

  /** Starts a phase of `total` units of which `alreadyDone` are skipped (stored by an earlier run). */
  start(label: string, total: number, alreadyDone = 0): void {
    this.#label = label;
    this.#total = total;
    this.#done = alreadyDone;
    this.#worked = 0;
    this.#workStartedAt = Date.now();
    this.#lastPrint = 0;
    this.draw(true);
  }

  /** One more unit finished; `detail` (e.g. the cell) is shown after the bar. */
  tick(detail = ""): void {
    this.#done++;
    this.#worked++;
    this.draw(this.#done >= this.#total, detail);
  }

  /** A message on its own line, keeping the bar below it. */
  log(message: string): void {
    if (this.#tty) this.#stream.write("\r\x1b[2K");
    this.#stream.write(`${message}\n`);
    if (this.#tty && this.#total > 0 && this.#done < this.#total) this.draw(true);
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.#tty && this.#total > 0) this.#stream.write("\n");
    this.#total = 0;
  }

  private draw(force: boolean, detail = ""): void {
    const now = Date.now();
    if (!force && !this.#tty && now - this.#lastPrint < 5000) return;
    if (!force && this.#tty && now - this.#lastPrint < 100) return;
    this.#lastPrint = now;
    const line = `${this.#label} ${bar(this.#done, this.#total)} ${this.#done}/${this.#total}${this.eta()}${detail ? `  ${detail}` : ""}`;
    if (this.#tty) this.#stream.write(`\r\x1b[2K${line.slice(0, (this.#stream.columns ?? 120) - 1)}`);
    else this.#stream.write(`${line}\n`);
  }

  private eta(): string {
    const remaining = this.#total - this.#done;
    if (this.#worked === 0 || remaining <= 0) return "";
    const perUnit = (Date.now() - this.#workStartedAt) / this.#worked;
    return ` ETA ${formatDuration((perUnit * remaining) / 1000)}`;
  }
}

function bar(done: number, total: number, width = 24): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  return m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}
