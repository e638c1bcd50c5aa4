import { spawn } from "node:child_process";

export interface ScriptRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a TypeScript entry point (the CLI's or the bench's main.ts) as `pnpm emosteer` / `pnpm bench`
 * do, with node itself and tsx's loader (not the tsx CLI, which runs the script in a grandchild).
 */
export function runScript(script: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<ScriptRun> {
  const childEnv = { ...process.env, ...env };
  delete childEnv.EMOSTEER_DEBUG; // it would add stack traces to one-line failures
  const child = spawn(process.execPath, ["--conditions=@emosteer/source", "--import", "tsx", script, ...args], {
    cwd,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolvePromise, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}
