import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureModel } from "@emosteer/models";
import { afterAll, describe, expect, it } from "vitest";
import { readExportInfo } from "../src/export.js";

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), "emosteer-concurrent-export-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function exportInChild(ggufPath: string, outDir: string): Promise<{ cached: boolean; modelDir: string }> {
  const child = spawn(
    process.execPath,
    ["--conditions=@emosteer/source", "--import", "tsx", join(here, "fixtures", "export-once.ts"), ggufPath, outDir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((ok, fail) =>
    child.on("exit", (code) =>
      code === 0 ? ok(JSON.parse(out.trim().split("\n").pop()!)) : fail(new Error(`export exited with ${code}:\n${err}`)),
    ),
  );
}

describe("two processes exporting the same GGUF into the same folder", () => {
  it("never remove or replace each other's folder: one builds it, the other waits and reuses it", async () => {
    const { path } = await ensureModel("smollm2-135m-instruct");
    const outDir = join(work, "smollm2");
    const [a, b] = await Promise.all([exportInChild(path, outDir), exportInChild(path, outDir)]);
    expect([a.cached, b.cached].sort()).toEqual([false, true]);
    expect(a.modelDir).toBe(b.modelDir);
    expect((await readExportInfo(outDir))?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    // No temporary folder or lock is left beside it.
    expect(readdirSync(work)).toEqual(["smollm2"]);
  }, 600_000);
});
