import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// How the process tests (real-run, distributed, honest-exit) run the bench: its CLI as a child
// process, on a tiny grid of the default model.

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const main = join(repoRoot, "apps", "bench", "src", "main.ts");

export interface BenchExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Starts `pnpm bench <args>`; `done` settles when it exits, with everything it wrote to stderr. */
export function spawnBench(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; done: Promise<BenchExit> } {
  // node itself (not the tsx CLI, which runs the script in a grandchild) so SIGKILL hits the bench.
  const child = spawn(process.execPath, ["--conditions=@emosteer/source", "--import", "tsx", main, ...args], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const done = new Promise<BenchExit>((settle) => child.on("exit", (code, signal) => settle({ code, signal, stderr })));
  return { child, done };
}

/**
 * The process tests' grid: smollm2-135m-instruct on `backend`, joy at α 0 and 1 (so with the
 * prompt baseline three cells a query), no mix, no long texts; latency pairs as long as the answers.
 */
export function tinyGrid(
  backend: string,
  size: { readonly queries: number; readonly maxTokens: number; readonly latencyReps: number; readonly extractionQueries?: number },
): string[] {
  const sized: Record<string, string | number> = {
    "--backends": backend,
    "--queries": size.queries,
    "--max-tokens": size.maxTokens,
    "--latency-reps": size.latencyReps,
    ...(size.latencyReps > 0 ? { "--latency-tokens": size.maxTokens } : {}),
    ...(size.extractionQueries === undefined ? {} : { "--extraction-queries": size.extractionQueries }),
  };
  return [
    ..."--models smollm2-135m-instruct --emotions joy --alphas 0,1 --mix none --long-queries 0".split(" "),
    ...Object.entries(sized).flatMap(([flag, value]) => [flag, String(value)]),
  ];
}
