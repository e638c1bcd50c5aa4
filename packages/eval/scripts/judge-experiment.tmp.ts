import { trainJudge, splitIsear, DEFAULT_JUDGE_SETTINGS, type JudgeSettings } from "../src/judge.ts";
import { loadGoEmotions, loadIsear, JUDGE_LABELS } from "../src/data.ts";
import { scoreClassification } from "../src/judge-evaluation.ts";
import { resolveDataDir } from "../src/paths.ts";
const variants: Record<string, Partial<JudgeSettings>> = JSON.parse(process.argv[2] ?? "{}");
const dev = loadGoEmotions(resolveDataDir(), "dev");
const held = splitIsear(loadIsear(resolveDataDir()), 0.2).heldOut;
for (const [name, v] of Object.entries(variants)) {
  const settings = { ...DEFAULT_JUDGE_SETTINGS, ...v, features: { ...DEFAULT_JUDGE_SETTINGS.features, ...(v.features ?? {}) }, training: { ...DEFAULT_JUDGE_SETTINGS.training, ...(v.training ?? {}) } };
  const t0 = performance.now();
  const j = trainJudge({ settings, onProgress: (p) => { if (process.env.V) console.error(p.message); } });
  const t1 = performance.now();
  const pred = dev.map((r) => { const p = j.probabilities(r.text); let b = 0; for (let c = 1; c < 7; c++) if (p[c]! > p[b]!) b = c; return b; });
  const t2 = performance.now();
  const s = scoreClassification(dev.map((r) => r.labels), pred, 7);
  const hp = held.map((r) => { const p = j.probabilities(r.text); let b = 0; for (let c = 1; c < 7; c++) if (p[c]! > p[b]!) b = c; return b; });
  const hs = scoreClassification(held.map((r) => r.labels), hp, 7);
  console.log(name, "train s", ((t1 - t0) / 1000).toFixed(1), "texts/s", (dev.length / ((t2 - t1) / 1000)).toFixed(0), "macroF1", s.macroF1.toFixed(4), "acc", s.accuracy.toFixed(4), "per", s.perClassF1.map((f) => f.toFixed(3)).join(" "), "isear", hs.accuracy.toFixed(4), "single", scoreClassification(dev.map((r)=>r.labels).filter((l)=>l.length===1), pred.filter((_,i)=>dev[i]!.labels.length===1), 7).macroF1.toFixed(4));
}
