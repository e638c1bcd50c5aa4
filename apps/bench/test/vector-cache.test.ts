// One vector cache for the CLI, the library and the bench: the same model, engine, method and
// corpus are extracted once, whichever of them comes first (on the real default model, with two
// contrast pairs so that each extraction takes seconds).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openBackend } from "@emosteer/backends";
import type { SteeringBackend } from "@emosteer/core";
import { cachedEmotionVectors, defaultVectorCacheDir, type CachedBatch } from "@emosteer/core/node";
import { defaultCacheDir, ensureModel } from "@emosteer/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScript } from "../../cli/test/run-script.js";
import { parseBenchArgs, type BenchOptions } from "../src/options.js";
import { benchVectorSource } from "../src/vectors.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CLI = join(repoRoot, "apps", "cli", "src", "main.ts");
/** The demo's engine (the CLI's default); the cache keeps each engine's vectors apart. */
const ENGINE = "llama.cpp";
const cache = mkdtempSync(join(tmpdir(), "emosteer-shared-vectors-"));
let backend: SteeringBackend;
let options: BenchOptions;

beforeAll(async () => {
  backend = await openBackend(ENGINE, { modelPath: (await ensureModel("smollm2-135m-instruct")).path, threads: 1 });
  options = parseBenchArgs(
    ["--models", "smollm2-135m-instruct", "--backends", ENGINE, "--extraction-queries", "2", "--vector-cache", cache],
    { cacheDir: "/unused", cwd: repoRoot },
  ) as BenchOptions;
});

afterAll(async () => {
  await backend?.dispose();
  rmSync(cache, { recursive: true, force: true });
});

/** The bench's vector loading for the primary corpus, recording what came from where. */
async function benchLoad(emotion: string): Promise<{ hits: CachedBatch[]; extracted: CachedBatch[]; progressEvents: number }> {
  const hits: CachedBatch[] = [];
  const extracted: CachedBatch[] = [];
  let progressEvents = 0;
  const vectors = await cachedEmotionVectors(backend, {
    emotions: [emotion],
    ...benchVectorSource(options, "fixed"),
    onCacheHit: (batch) => hits.push(batch),
    onExtracted: (batch) => extracted.push(batch),
    onProgress: () => progressEvents++,
  });
  expect([...vectors.keys()]).toEqual([emotion]);
  return { hits, extracted, progressEvents };
}

describe("one vector cache for the CLI and the bench", () => {
  it("by default both use core's cache root, <cache>/vectors", () => {
    const defaults = parseBenchArgs([], { cacheDir: defaultCacheDir(), cwd: repoRoot }) as BenchOptions;
    expect(defaults.vectorCache).toBe(defaultVectorCacheDir());
    expect(defaultVectorCacheDir()).toBe(join(defaultCacheDir(), "vectors"));
  });

  it("a vector the CLI extracted is a cache hit for the bench: nothing is extracted again", async () => {
    const cli = await runScript(
      CLI,
      ["extract", "--backend", ENGINE, "--emotions", "joy", "--max-queries", "2", "--vector-cache", cache],
      repoRoot,
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`^joy\\s+2 pairs on ${ENGINE}.*at layer \\d+$`, "m")); // extracted, not "(cached)"

    const { hits, extracted, progressEvents } = await benchLoad("joy");
    expect(extracted).toEqual([]);
    expect(progressEvents).toBe(0);
    expect(hits).toHaveLength(1);
    expect(hits[0]!.emotions).toEqual(["joy"]);
    expect(hits[0]!.paths[0]).toContain(join(cache, backend.model.fingerprint, ENGINE));
  });

  it("a vector the bench extracted is a cache hit for the CLI", async () => {
    const first = await benchLoad("fear");
    expect(first.extracted).toHaveLength(1);
    expect(first.hits).toEqual([]);

    const cli = await runScript(
      CLI,
      ["extract", "--backend", ENGINE, "--emotions", "fear", "--max-queries", "2", "--vector-cache", cache],
      repoRoot,
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`^fear\\s+2 pairs on ${ENGINE}.* \\(cached\\)$`, "m"));
  });
});
