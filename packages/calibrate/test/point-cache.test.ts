import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PointCache } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "emosteer-point-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PointCache", () => {
  it("persists every set atomically (no temporary file left) and reads it back", () => {
    const path = join(dir, "a", "points.json");
    const cache = PointCache.open(path);
    expect(cache.size).toBe(0);
    const key = PointCache.key({ model: "f", emotion: "joy", layers: { from: 3, to: 5 } });
    cache.set(key, { eps: 0.5 });
    expect(readdirSync(join(dir, "a"))).toEqual(["points.json"]);
    expect(PointCache.open(path).get(key)).toEqual({ eps: 0.5 });
  });

  it("keys differ when any part differs, and are stable", () => {
    expect(PointCache.key({ a: 1, b: [2] })).toBe(PointCache.key({ a: 1, b: [2] }));
    expect(PointCache.key({ a: 1, b: [2] })).not.toBe(PointCache.key({ a: 1, b: [3] }));
  });

  it("refuses a corrupt or foreign file with what to do", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ nope");
    expect(() => PointCache.open(bad)).toThrow(/not valid JSON; delete it/);
    writeFileSync(bad, JSON.stringify({ version: 99, points: {} }));
    expect(() => PointCache.open(bad)).toThrow(/not a version-1 calibration cache/);
  });
});
