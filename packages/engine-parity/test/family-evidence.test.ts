// What `emosteer models list` claims per family (@emosteer/models FAMILY_EVIDENCE) is what
// benchmarks/families.json measured, and every registry family has a synthetic model.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeFamilyEvidence, FAMILY_EVIDENCE, MODEL_REGISTRY } from "@emosteer/models";
import { describe, expect, it } from "vitest";
import type { FamiliesReport } from "../src/families-report.js";
import { SYNTHETIC_FAMILIES } from "../src/synthetic-families.js";

const report = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "benchmarks", "families.json"), "utf8"),
) as FamiliesReport;
const families = [...new Set(MODEL_REGISTRY.map((m) => m.family))];

describe("family evidence", () => {
  it("has one synthetic model per registry family, of the registry's architecture", () => {
    expect(SYNTHETIC_FAMILIES.map((f) => f.family).sort()).toEqual([...families].sort());
    for (const m of MODEL_REGISTRY) expect(SYNTHETIC_FAMILIES.find((f) => f.family === m.family)!.architecture, m.id).toBe(m.architecture);
  });

  it("benchmarks/families.json has one row per family, and the models-list claims are its measurements", () => {
    expect(report.families.map((r) => r.family).sort()).toEqual([...families].sort());
    for (const row of report.families) {
      const evidence = FAMILY_EVIDENCE[row.family]!;
      const measured = [row.llama_cpp && "llama.cpp", row.onnx && "onnx", row.transformers_js && "transformers.js"].filter(Boolean);
      expect(evidence.syntheticEngines, row.family).toEqual(measured);
      expect(evidence.realWeights, row.family).toBe(row.real_weights);
      expect(describeFamilyEvidence(row.family)).toBe(
        row.real_weights ? "measured with real weights" : `architecture proven on synthetic weights on engines ${measured.join(", ")}`,
      );
    }
  });
});
