// Measures every registry family on synthetic F32 weights on all three engines (the same
// measurement as test/synthetic-families.test.ts) and writes benchmarks/families.json and the
// "Registry families on synthetic weights" section of benchmarks/ENGINES.md (only that section,
// between its markers; the rest of the file is left as it is). With --render-only it measures
// nothing and regenerates that section from benchmarks/families.json.
//   npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/families-report.ts [--render-only]
import { readFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { writeFileAtomic, writeMarkdownSection } from "@emosteer/core/node";
import { FAMILY_EVIDENCE, MODEL_REGISTRY } from "@emosteer/models";
import {
  agreementHolds,
  type FamilyParity,
  measureFamilyParity,
  mutationDetected,
  SYNTHETIC_POSITIONS,
  SYNTHETIC_TEXT,
  SYNTHETIC_TOLERANCE,
} from "../src/family-parity.js";
import type { FamiliesReport, FamilyRow, RopeAblation } from "../src/families-report.js";
import { compareLogits } from "../src/logit-parity.js";
import { SYNTHETIC_FAMILIES, type SyntheticFamily } from "../src/synthetic-families.js";
import { syntheticGguf } from "../src/synthetic-gguf.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const COMMAND = "npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/families-report.ts";
const SECTION = "families-report";
const reportPath = join(root, "benchmarks", "families.json");

const renderOnly = process.argv.includes("--render-only");
const report: FamiliesReport = renderOnly ? (JSON.parse(await readFile(reportPath, "utf8")) as FamiliesReport) : await measure();
await writeMarkdownSection(join(root, "benchmarks", "ENGINES.md"), SECTION, COMMAND, section(report));
const rows = report.families;
console.log(
  `wrote ${renderOnly ? "" : "benchmarks/families.json and "}the ENGINES.md section: ${rows.filter((r) => r.llama_cpp && r.onnx && r.transformers_js).length}/${rows.length} families proven on all three engines`,
);

/** Measures every family, writes benchmarks/families.json and returns what it wrote. */
async function measure(): Promise<FamiliesReport> {
  const results: FamilyParity[] = [];
  for (const family of SYNTHETIC_FAMILIES) {
    const started = Date.now();
    const result = await measureFamilyParity(family, { onStage: (stage) => process.stderr.write(`[${family.family}] ${stage}\n`) });
    process.stderr.write(`[${family.family}] done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    results.push(result);
  }

  // RoPE extras are read from the file, not from the architecture table, so no mutation removes
  // them: instead, llama.cpp on the same weights without them shows how far the logits would move
  // (the parity above is within τ, so an export that ignored them could not pass where this is ≥ τ).
  const ropeAblations: RopeAblation[] = [];
  for (const family of SYNTHETIC_FAMILIES.filter((f) => f.ropeFactors || f.ropeAttnFactor)) {
    const { ropeFactors: _factors, ropeAttnFactor: _attn, ...plain } = family;
    const stripped: SyntheticFamily = plain;
    const open = async (f: SyntheticFamily) => createLlamaCppBackend({ modelPath: await syntheticGguf(f), contextSize: 512, threads: 2 });
    const [a, b] = [await open(family), await open(stripped)];
    try {
      const tokens = (await a.tokenize(SYNTHETIC_TEXT)).slice(0, SYNTHETIC_POSITIONS);
      const c = compareLogits(await a.evaluateLogits({ tokens }), await b.evaluateLogits({ tokens }), a.model.vocabSize);
      const removed = [
        family.ropeFactors && Object.keys(family.ropeFactors).join(" + "),
        family.ropeAttnFactor && "rope.scaling.attn_factor",
      ]
        .filter(Boolean)
        .join(" + ");
      ropeAblations.push({ family: family.family, removed, maxAbsDiff: c.maxAbsDiff, top1: c.top1Agreement });
    } finally {
      await a.dispose();
      await b.dispose();
    }
  }

  const llamaCppProven = (r: FamilyParity) => r.llamaCpp.steeringShiftError < 1e-4 && r.llamaCpp.steeringChangedTop1 > 0;
  const rows = [...new Set(MODEL_REGISTRY.map((m) => m.family))].map((family): FamilyRow => {
    const r = results.find((x) => x.family === family);
    if (!r) throw new Error(`registry family ${family} has no synthetic model in src/synthetic-families.ts`);
    return {
      family,
      architecture: r.architecture,
      llama_cpp: llamaCppProven(r),
      onnx: agreementHolds(r.onnx) && r.tokenizerAgrees.onnx,
      transformers_js: agreementHolds(r.transformersJs) && r.tokenizerAgrees.transformersJs,
      real_weights: FAMILY_EVIDENCE[family]?.realWeights ?? false,
    };
  });

  const measured: FamiliesReport = {
    generatedBy: COMMAND,
    measuredAt: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? "unknown",
    positions: SYNTHETIC_POSITIONS,
    tolerance: SYNTHETIC_TOLERANCE,
    families: rows,
    parity: results,
    ropeAblations,
  };
  await writeFileAtomic(reportPath, `${JSON.stringify(measured, null, 2)}\n`);
  return measured;
}

/** The ENGINES.md section (between its markers) for a report. */
function section(report: FamiliesReport): string {
  const { parity: results, ropeAblations, families: rows } = report;

  const f = (x: number) => (x === 0 ? "0" : x.toExponential(1));
  const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
  const yes = (b: boolean) => (b ? "yes" : "**no**");
  return [
    "## Registry families on synthetic weights",
    "",
    `Generated by \`${COMMAND}\` (${report.measuredAt.slice(0, 10)}, ${report.cpu}); the same measurement is the test`,
    "`packages/engine-parity/test/synthetic-families.test.ts`. Each family's model is a tiny F32 GGUF in its real layout",
    "(tensor names, fused or separate projections, norms, biases, multipliers, RoPE base and factors, GQA ratio; sizes",
    "scaled down) with seeded weights, written by `packages/engine-parity/python/synthetic_gguf.py` with the bundled",
    "gguf-py (`src/synthetic-families.ts` lists what each row copies and which vocabulary it uses). llama.cpp is the reference;",
    `ONNX is the exact fp32 export on onnxruntime, transformers.js runs the same folder. ${SYNTHETIC_POSITIONS} positions of a fixed text;`,
    `capture: the middle layer's residual, cosine with llama.cpp's \`l_out\`; steered: a vector at that layer three times as long`,
    "as the residual there (per-layer injection). Steering effect: max |Δlogit| it causes on llama.cpp. Mutation: the export with one",
    `distinctive feature removed must fail parity (top-1 < 100 %, max |Δlogit| ≥ τ = ${SYNTHETIC_TOLERANCE.maxAbsDiff} or cosine < ${SYNTHETIC_TOLERANCE.minCaptureCosine}).`,
    "",
    "| family | arch | vocab | ONNX max \\|Δ\\| | ONNX top-1 | ONNX cos | ONNX steered max \\|Δ\\| / top-1 | transformers.js max \\|Δ\\| | transformers.js top-1 | transformers.js cos | transformers.js steered max \\|Δ\\| / top-1 | steering effect (top-1 changed) | mutation | mutated max \\|Δ\\| / top-1 / cos | stress strings tokenised as llama.cpp (ONNX / transformers.js) |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ...results.map(
      (r) =>
        `| ${r.family} | ${r.architecture} | ${r.vocabSize} | ${f(r.onnx.maxAbsDiff)} | ${pct(r.onnx.top1)} | ${r.onnx.captureCosine.toFixed(7)} | ${f(r.onnx.steeredMaxAbsDiff)} / ${pct(r.onnx.steeredTop1)} | ` +
        `${f(r.transformersJs.maxAbsDiff)} | ${pct(r.transformersJs.top1)} | ${r.transformersJs.captureCosine.toFixed(7)} | ${f(r.transformersJs.steeredMaxAbsDiff)} / ${pct(r.transformersJs.steeredTop1)} | ` +
        `${r.llamaCpp.steeringEffect.toFixed(2)} (${r.llamaCpp.steeringChangedTop1}/${r.positions}) | ${r.mutation.what} | ${r.mutation.maxAbsDiff.toFixed(2)} / ${pct(r.mutation.top1)} / ${r.mutation.captureCosine.toFixed(4)}${mutationDetected(r.mutation) ? "" : " **not detected**"} | ${r.tokenizerStress.onnx} / ${r.tokenizerStress.transformersJs} of ${r.tokenizerStress.strings} |`,
    ),
    "",
    "RoPE factors and the attention factor are read from the file, so no mutation removes them; llama.cpp on the same weights",
    "without them moves the logits this far (`ropeAblations`), which the parity above (within τ) could not hide:",
    "",
    "| family | removed | llama.cpp max \\|Δlogit\\| | top-1 kept |",
    "|---|---|---:|---:|",
    ...ropeAblations.map((r) => `| ${r.family} | ${r.removed} | ${r.maxAbsDiff.toFixed(3)} | ${pct(r.top1)} |`),
    "",
    "Per family (`benchmarks/families.json`, `families`): proven on each engine on synthetic weights, and whether real weights",
    "were measured (the registry has them offline; the real-weight checks are the sections above). `emosteer models list` shows the same.",
    "",
    "| family | architecture | llama.cpp | onnx | transformers.js | real weights |",
    "|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.family} | ${r.architecture} | ${yes(r.llama_cpp)} | ${yes(r.onnx)} | ${yes(r.transformers_js)} | ${r.real_weights ? "yes" : "no"} |`,
    ),
  ].join("\n");
}
