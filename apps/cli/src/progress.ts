let lastPlainPrint = 0;

/**
 * Rewrites one status line on stderr. When stderr is not a terminal (CI logs, pipes) it prints a
 * plain line at most every 5 seconds instead, so logs stay readable.
 */
export function progressLine(text: string): void {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[2K${text}`);
    return;
  }
  const now = Date.now();
  if (text && now - lastPlainPrint >= 5000) {
    lastPlainPrint = now;
    process.stderr.write(`${text}\n`);
  }
}

/** A text progress bar: `[#####-----] 12/40 30% ETA 1m05s`. */
export function progressBar(done: number, total: number, startedAt: number, label = ""): string {
  const width = 24;
  const fraction = total > 0 ? done / total : 1;
  const filled = Math.round(fraction * width);
  const elapsed = (Date.now() - startedAt) / 1000;
  const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
  const etaText = Number.isFinite(eta) ? ` ETA ${formatSeconds(eta)}` : "";
  return `${label}[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${Math.round(fraction * 100)}%${etaText}`;
}

function formatSeconds(s: number): string {
  const m = Math.floor(s / 60);
  const r = Math.round(s % 60);
  return m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}
