import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type CalibrationResult,
  PointCache,
  calibrate as calibrateVector,
  extractionCalibrationData,
  loadCalibrationScorer,
} from "@emosteer/calibrate";
import { CORE_EMOTIONS, isCoreEmotion } from "@emosteer/core";
import { cachedEmotionVectors, defaultCacheDir, saveVectorFile, writeFileAtomic } from "@emosteer/core/node";
import { isJudgeName } from "@emosteer/eval";
import type { Command } from "./command.js";
import { extractionProgress } from "./emotion-vectors.js";
import { ENGINE_HELP, ENGINE_OPTIONS, modelFile, openEngine, parseEngineOptions } from "./engine-options.js";
import { parseInteger } from "./option-values.js";
import { progressBar, progressLine } from "../progress.js";
import { UsageError } from "../usage-error.js";

const HELP = `Usage: emosteer calibrate [--model ID] [--backend NAME] [--emotions joy,anger,...] [--budget N]
                          [--queries N] [--confirm N] [--max-tokens N] [--judge v1|v2]
                          [--cache FILE] [--vector-cache DIR] [--out DIR] [--report FILE]

Finds each emotion's operating point on the model (a layer window, the injection and the α that
α = 1 will mean): the judge's EPS is maximised subject to fidelity ≥ 0.6, perplexity ≤ 1.5× and
distinct-2 ≥ 0.9× unsteered, measured on extraction-split queries only. The profile is written
into the cached vector files (so "emosteer generate" uses it) and, with --out, DIR/<emotion>.gguf.
Evaluated points are cached (--cache), so an interrupted run resumes where it stopped.

${ENGINE_HELP}
  --emotions LIST       core emotions to calibrate (default joy,anger,disgust,fear,sadness)
  --budget N            most points measured by generation per emotion (default confirm × 6)
  --queries N           extraction queries generated on per point (default 6)
  --confirm N           layer windows confirmed by generation (default 3)
  --max-tokens N        tokens per generated answer (default 48)
  --judge NAME          the judge, v1 or v2 (default v2)
  --cache FILE          the evaluated-points cache (default ~/.cache/emosteer/calibration/<fingerprint>-<engine>.json)
  --out DIR             also write DIR/<emotion>.gguf
  --report FILE         write every measured point, the pre-scores and the cost as JSON`;

export const calibrate: Command = {
  summary: "calibrate each emotion's operating point (layers, injection, α) and store it in the vector files",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...ENGINE_OPTIONS,
        emotions: { type: "string" },
        budget: { type: "string" },
        queries: { type: "string", default: "6" },
        confirm: { type: "string", default: "3" },
        "max-tokens": { type: "string", default: "48" },
        judge: { type: "string", default: "v2" },
        cache: { type: "string" },
        out: { type: "string" },
        report: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const engine = parseEngineOptions(values);
    const emotions = (values.emotions ?? CORE_EMOTIONS.join(","))
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    for (const e of emotions)
      if (!isCoreEmotion(e))
        throw new UsageError(
          `--emotions: "${e}" is not a core emotion (${CORE_EMOTIONS.join(", ")}); calibration needs the judge's class and contrast answers.`,
        );
    if (!isJudgeName(values.judge)) throw new UsageError(`--judge: "${values.judge}" is not v1 or v2`);
    const queryCount = parseInteger("queries", values.queries, 1);
    const confirm = parseInteger("confirm", values.confirm, 1);
    const maxTokens = parseInteger("max-tokens", values["max-tokens"], 1);
    const budget = values.budget === undefined ? undefined : parseInteger("budget", values.budget, 1);

    await using backend = await openEngine(engine, await modelFile(engine));
    const paths = new Map<string, string>();
    const vectors = await cachedEmotionVectors(backend, {
      emotions,
      ...extractionProgress(engine.vectorCache),
      onCacheHit: (b) => {
        for (const [i, p] of b.paths.entries()) paths.set(b.emotions[i]!, p);
      },
      onExtracted: (b) => {
        for (const [i, p] of b.paths.entries()) paths.set(b.emotions[i]!, p);
      },
    });
    progressLine("");
    const scorer = await loadCalibrationScorer({ judge: values.judge, onProgress: (m) => progressLine(m) });
    progressLine("");
    const cachePath =
      values.cache ?? join(defaultCacheDir(), "calibration", `${backend.model.fingerprint}-${backend.name.replace(/[^\w.-]/g, "_")}.json`);
    const cache = PointCache.open(cachePath);
    const results: CalibrationResult[] = [];
    try {
      for (const emotion of emotions) {
        const vector = vectors.get(emotion)!;
        const data = extractionCalibrationData(emotion, { count: queryCount });
        const stageStart = new Map<string, number>();
        const result = await calibrateVector(backend, vector, {
          scorer,
          queries: data.queries,
          contrast: data.contrast,
          confirm,
          maxTokens,
          cache,
          ...(budget !== undefined ? { budget } : {}),
          onProgress: (p) => {
            if (!stageStart.has(p.stage)) stageStart.set(p.stage, Date.now());
            progressLine(progressBar(p.done, p.total, stageStart.get(p.stage)!, `${emotion} ${p.stage} ${p.message.slice(0, 48)} `));
          },
        });
        progressLine("");
        results.push(result);
        const c = result.cost;
        const costLine = `${c.evaluations} points by generation (${c.cachedEvaluations} cached), ${c.generations} generations, ${c.teacherForcedPasses} teacher-forced passes, ${c.seconds.toFixed(0)} s`;
        if (!result.profile) {
          console.log(`${emotion.padEnd(8)} no point met the constraints; vector left uncalibrated (${costLine})`);
          continue;
        }
        const p = result.profile;
        const calibrated = vector.withProfile(p);
        const written = [paths.get(emotion), values.out && join(values.out, `${emotion}.gguf`)].filter((x): x is string => !!x);
        for (const path of written) await saveVectorFile(path, calibrated);
        const o = p.objective;
        console.log(
          `${emotion.padEnd(8)} layers ${p.layers.from}..${p.layers.to} ${p.injection} α=${p.alpha.toFixed(3)}: EPS ${o.eps.toFixed(3)}, fidelity ${o.fidelity.toFixed(3)}, perplexity ×${o.perplexityRatio.toFixed(2)}, distinct-2 ×${o.distinct2Ratio.toFixed(2)} (${costLine}) → ${written.join(", ")}`,
        );
      }
    } finally {
      await scorer.dispose();
    }
    console.log(`evaluated points cached in ${cachePath}`);
    if (values.report) {
      const report = {
        command: `emosteer calibrate ${argv.join(" ")}`,
        model: backend.model,
        backend: backend.name,
        judge: scorer.judgeId,
        createdAt: new Date().toISOString(),
        results,
      };
      await writeFileAtomic(values.report, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`report written to ${values.report}`);
    }
    return results.every((r) => r.profile) ? 0 : 1;
  },
};
