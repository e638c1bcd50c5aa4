import { statSync } from "node:fs";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_INDOMAIN_DIR,
  inDomainFiles,
  leakingTrainRows,
  loadContrastCorpus,
  loadInDomain,
  normaliseQuestion,
} from "../src/indomain-data.js";
import {
  COMMITTED_JUDGE_PATH,
  createJudge,
  type EmotionJudge,
  isJudgeName,
  type JudgeSettings,
  loadJudge,
  trainJudge,
  V2_JUDGE_SETTINGS,
} from "../src/judge.js";
import { scoreSet } from "../src/judge-report.js";

/** v2's recipe (n-grams + MiniLM, in-domain rows, temperature, float16) on a seeded subsample: a few seconds once embedded. */
const TINY_V2: JudgeSettings = {
  ...V2_JUDGE_SETTINGS,
  features: { ...V2_JUDGE_SETTINGS.features, hashBits: 14 },
  training: { ...V2_JUDGE_SETTINGS.training, epochs: 2 },
};
const tmp = mkdtempSync(join(tmpdir(), "emosteer-eval-v2-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("judge v2 training", () => {
  let a: EmotionJudge;
  beforeAll(async () => {
    a = await trainJudge({ settings: TINY_V2, limit: 600 });
  }, 900_000);
  afterAll(() => a?.dispose());

  it("is deterministic: the same settings and data give the same weights hash", async () => {
    const b = await trainJudge({ settings: TINY_V2, limit: 600 });
    expect(b.id).toBe(a.id);
    expect(b.temperature).toBe(a.temperature);
    expect(a.temperature).toBeGreaterThan(0);
    const c = await trainJudge({ settings: { ...TINY_V2, training: { ...TINY_V2.training, seed: 2 } }, limit: 600 });
    expect(c.id).not.toBe(a.id);
  });

  it("round-trips through a float16 judge file with its id, name, settings and data hashes", async () => {
    const path = join(tmp, "tiny.judge");
    writeFileSync(path, a.serialize());
    const loaded = loadJudge(path);
    expect(loaded.id).toBe(a.id);
    expect(loaded.settings).toEqual(TINY_V2);
    expect(loaded.dataFiles).toEqual(a.dataFiles);
    expect(loaded.dataFiles.some((f) => f.file.startsWith("packages/eval/data/indomain/train/") && /^[0-9a-f]{64}$/.test(f.sha256))).toBe(
      true,
    );
    expect(loaded.dataFiles.some((f) => f.file.includes("/dev/"))).toBe(false);
    const texts = ["I can't stop smiling, this is the best news!", "", "Sure: unplug it, wait ten minutes, plug it back in."];
    const [p, q] = [await a.probabilitiesMany(texts), await loaded.probabilitiesMany(texts)];
    texts.forEach((_, i) => {
      expect(Array.from(q[i]!)).toEqual(Array.from(p[i]!));
    });
    for (const v of p) expect(v.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    await loaded.dispose();
  });
});

describe("the committed v2 judge file", () => {
  let judge: EmotionJudge;
  beforeAll(async () => {
    judge = await createJudge();
  }, 900_000);
  afterAll(() => judge?.dispose());

  it("is the default judge, small, and records what it was trained on", () => {
    expect(judge.name).toBe("v2");
    expect(judge.settings).toEqual(V2_JUDGE_SETTINGS);
    expect(statSync(COMMITTED_JUDGE_PATH).size).toBeLessThan(4 << 20);
    expect(loadJudge(COMMITTED_JUDGE_PATH).id).toBe(judge.id);
    expect(judge.dataFiles.map((f) => f.file)).toContain("goemotions-ekman/train.tsv");
    expect(judge.dataFiles.filter((f) => f.file.startsWith("packages/eval/data/indomain/train/")).length).toBeGreaterThan(0);
    expect(isJudgeName("v1") && isJudgeName("v2") && !isJudgeName("v3")).toBe(true);
  });

  it("reads the contrast corpus it was never trained on far better than chance", async () => {
    const all = loadContrastCorpus();
    expect(all).toHaveLength(600);
    const rows = all.slice(0, 300); // the first 50 queries, six answers each: enough to tell, half the time
    const s = scoreSet(
      rows.map((r) => r.labels),
      await judge.probabilitiesMany(rows.map((r) => r.text)),
    );
    console.log(`v2 on the contrast corpus: macro-F1 ${s.macro_f1.toFixed(3)}, ECE ${s.ece.toFixed(3)}`);
    expect(s.rows).toBe(300);
    expect(s.classes).toHaveLength(6);
    expect(s.macro_f1).toBeGreaterThan(0.5);
  }, 300_000);
});

describe("in-domain data", () => {
  const train = loadInDomain("train");
  const dev = loadInDomain("dev");

  it("parses, and carries train files from the writers ta-/tb-/tc-/td-/te- and dev files from dv-", () => {
    expect(train.length).toBeGreaterThan(0);
    expect(dev.length).toBeGreaterThan(0);
    for (const f of inDomainFiles("train", DEFAULT_INDOMAIN_DIR)) expect(f.split("/").at(-1)).toMatch(/^t[a-e]-/);
    for (const f of inDomainFiles("dev", DEFAULT_INDOMAIN_DIR)) expect(f.split("/").at(-1)).toMatch(/^dv-/);
  });

  it("train and dev share no question (qid or normalised text) and no text; no contrast-corpus answer is in train", () => {
    const devQids = new Set(dev.map((r) => r.qid));
    const devQuestions = new Set(dev.map((r) => normaliseQuestion(r.question)));
    expect(train.filter((r) => devQids.has(r.qid))).toEqual([]);
    expect(train.filter((r) => devQuestions.has(normaliseQuestion(r.question)))).toEqual([]);
    const devTexts = new Set(dev.map((r) => r.text.trim()));
    expect(train.filter((r) => devTexts.has(r.text.trim()))).toEqual([]);
    const contrast = loadContrastCorpus();
    expect(contrast).toHaveLength(600);
    const contrastTexts = new Set(contrast.map((r) => r.text.trim()));
    expect([...train, ...dev].filter((r) => contrastTexts.has(r.text.trim()))).toEqual([]);
    expect(leakingTrainRows(train, dev, contrast)).toEqual([]);
  });

  it("the leak filter catches a dev question, a dev text and a contrast answer", () => {
    const d = dev[0]!;
    const c = loadContrastCorpus()[0]!;
    const fake = [
      { ...train[0]!, qid: "ta-x", question: `${d.question.toUpperCase()}  ` },
      { ...train[0]!, qid: "ta-y", question: "unrelated?", text: d.text },
      { ...train[0]!, qid: "ta-z", question: "unrelated too?", text: c.text },
    ];
    expect(leakingTrainRows(fake, dev, [c])).toHaveLength(3);
  });
});
