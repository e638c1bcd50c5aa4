import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidFileError } from "@emosteer/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeText, JUDGE_LABELS, parseGoEmotionsTsv } from "../src/data.js";
import { createJudge, EmotionJudge, type JudgeSettings, judgeCachePath, loadJudge, splitIsear, trainJudge } from "../src/judge.js";
import { scoreClassification } from "../src/judge-evaluation.js";
import { MissingDataError } from "../src/paths.js";

/** Small and fast: a seeded subset, a 2^16 feature space, two epochs. */
const SMALL: JudgeSettings = {
  features: { hashBits: 16, wordNgrams: [1, 2], charNgrams: [2, 4], charWeight: 1 },
  training: { optimizer: "sgd", epochs: 2, learningRate: 2, l2: 1e-5, classWeightPower: 0.5, seed: 3 },
  isearHeldOutShare: 0.2,
  priorTuneShare: 0.1,
};

const tmp = mkdtempSync(join(tmpdir(), "emosteer-eval-judge-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("judge training (v1 features)", () => {
  let a: EmotionJudge;
  beforeAll(async () => {
    a = await trainJudge({ settings: SMALL, limit: 1500 });
  });

  it("is reproducible: same seed → same weights hash; another seed → another", async () => {
    const b = await trainJudge({ settings: SMALL, limit: 1500 });
    expect(b.weightsHash).toBe(a.weightsHash);
    const c = await trainJudge({ settings: { ...SMALL, training: { ...SMALL.training, seed: 4 } }, limit: 1500 });
    expect(c.weightsHash).not.toBe(a.weightsHash);
  });

  it("outputs a probability per class that sums to 1", async () => {
    const s = await a.classify("I am so happy and grateful, thank you!");
    expect(Object.keys(s.probabilities)).toEqual([...JUDGE_LABELS]);
    const values = Object.values(s.probabilities);
    expect(values.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    expect(values.every((v) => v > 0 && v < 1)).toBe(true);
    expect(s.label).toBe("joy");
  });

  it("empty, symbol-only and odd text get a defined distribution (the prior), never NaN", async () => {
    for (const t of ["", "   ", "\u0000\uFFFD", "😀😀", "x".repeat(50_000)]) {
      const p = await a.probabilities(t);
      expect(p.every((v) => Number.isFinite(v))).toBe(true);
      expect(p.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    }
    expect(Array.from(await a.probabilities(""))).toEqual(Array.from(await a.probabilities("   ")));
    await expect(a.probabilities(undefined as unknown as string)).rejects.toThrow(TypeError);
  });

  it("round-trips through its binary file", async () => {
    const path = join(tmp, "a.judge");
    writeFileSync(path, a.serialize());
    const loaded = loadJudge(path);
    expect(loaded.weightsHash).toBe(a.weightsHash);
    expect(loaded.name).toBe("custom");
    expect(loaded.dataFiles.map((f) => f.file)).toEqual(["goemotions-ekman/labels.txt", "goemotions-ekman/train.tsv", "isear/isear.csv"]);
    expect(Array.from(await loaded.probabilities("What a disgusting thing to do"))).toEqual(
      Array.from(await a.probabilities("What a disgusting thing to do")),
    );
  });

  it("rejects a corrupt file with a clear error", () => {
    const bytes = Buffer.from(a.serialize());
    bytes[bytes.length >> 1]! ^= 0xff;
    expect(() => EmotionJudge.deserialize(bytes, "flipped.bin")).toThrow(InvalidFileError);
    expect(() => EmotionJudge.deserialize(bytes, "flipped.bin")).toThrow(/flipped.bin: checksum mismatch/);
    expect(() => EmotionJudge.deserialize(bytes.subarray(0, 1000), "cut.bin")).toThrow(/cut.bin/);
    expect(() => EmotionJudge.deserialize(Buffer.from("hello"), "text.bin")).toThrow(/bad magic/);
    expect(() => loadJudge(join(tmp, "missing.bin"))).toThrow(/no judge file/);
  });

  it("still loads a format-2 file (same layout) and refuses other versions, saying what to do", () => {
    const withVersion = (v: number) => {
      const bytes = Buffer.from(a.serialize());
      const at = bytes.indexOf('"formatVersion":3');
      expect(at).toBeGreaterThan(0);
      bytes.write(`"formatVersion":${v}`, at);
      const body = bytes.subarray(0, bytes.length - 32);
      createHash("sha256")
        .update(body)
        .digest()
        .copy(bytes, bytes.length - 32);
      return bytes;
    };
    expect(EmotionJudge.deserialize(withVersion(2), "old.judge").id).toBe(a.id);
    expect(() => EmotionJudge.deserialize(withVersion(1), "older.judge")).toThrow(
      /older.judge: judge file format version 1.*write it again/,
    );
  });
});

describe("judge cache", () => {
  const WORDS: JudgeSettings = {
    ...SMALL,
    features: { ...SMALL.features, charNgrams: [0, 0] },
    training: { ...SMALL.training, epochs: 1 },
    priorTuneShare: 0,
  };

  it("caches atomically, reloads, and retrains over a corrupt cache file", async () => {
    const cacheDir = join(tmp, "cache");
    const path = judgeCachePath({ cacheDir, settings: WORDS });
    expect(path.startsWith(join(cacheDir, "judge"))).toBe(true);
    const messages: string[] = [];
    const first = await createJudge({ cacheDir, settings: WORDS });
    const again = await createJudge({ cacheDir, settings: WORDS, onProgress: (p) => messages.push(p.message) });
    expect(again.weightsHash).toBe(first.weightsHash);
    expect(messages.some((m) => m.startsWith("loaded cached judge"))).toBe(true);

    writeFileSync(path, readFileSync(path).subarray(0, 4096)); // truncated, as after a crash without atomic writes
    messages.length = 0;
    const retrained = await createJudge({ cacheDir, settings: WORDS, onProgress: (p) => messages.push(p.message) });
    expect(messages.some((m) => /corrupt.*retraining/.test(m))).toBe(true);
    expect(retrained.weightsHash).toBe(first.weightsHash);
    expect(loadJudge(path).weightsHash).toBe(first.weightsHash);
  });

  it("a missing data folder is named in the error", async () => {
    await expect(createJudge({ judge: "v1", dataDir: join(tmp, "no-data"), cacheDir: tmp })).rejects.toThrow(MissingDataError);
    await expect(trainJudge({ dataDir: join(tmp, "no-data") })).rejects.toThrow(/no-data.*EMOSTEER_DATA_DIR/);
  });
});

describe("data handling", () => {
  it("decodes UTF-8, and Latin-1 when the bytes are not valid UTF-8", () => {
    expect(decodeText(Buffer.from("café", "utf8"))).toBe("café");
    expect(decodeText(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe("café");
    expect(decodeText(Buffer.from([0xff, 0xfe, 0x41]))).toBe("ÿþA");
  });

  it("parses GoEmotions rows and rejects bad label ids", () => {
    expect(parseGoEmotionsTsv("hi\t3,6\tx1\n", "t.tsv")).toEqual([{ id: "x1", text: "hi", labels: [3, 6] }]);
    expect(() => parseGoEmotionsTsv("hi\t9\tx1\n", "t.tsv")).toThrow(/t.tsv: line 1 has label ids "9"/);
  });

  it("splits ISEAR by a stable hash of its key", () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ id: `k${i}`, text: "t", labels: [0] }));
    const { train, heldOut } = splitIsear(rows, 0.2);
    expect(train.length + heldOut.length).toBe(1000);
    expect(heldOut.length).toBeGreaterThan(150);
    expect(heldOut.length).toBeLessThan(250);
    expect(splitIsear(rows, 0.2).heldOut).toEqual(heldOut);
  });
});

describe("classification scores (multi-label rule)", () => {
  it("matches a hand computation", () => {
    // classes 0,1,2. rows: gold {0} pred 0 (TP0); gold {1} pred 0 (FP0, FN1); gold {1,2} pred 2 (TP2, FN1); gold {2} pred 2 (TP2)
    const s = scoreClassification([[0], [1], [1, 2], [2]], [0, 0, 2, 2], 3);
    // F1_0 = 2·1/(2+1+0) = 2/3; F1_1 = 0; F1_2 = 2·2/(4+0+0) = 1
    expect(s.perClassF1[0]).toBeCloseTo(2 / 3, 12);
    expect(s.perClassF1[1]).toBe(0);
    expect(s.perClassF1[2]).toBe(1);
    expect(s.macroF1).toBeCloseTo(5 / 9, 12);
    expect(s.accuracy).toBe(0.75);
    expect(s.confusion).toEqual([
      [1, 0, 0],
      [1, 0, 0],
      [0, 0, 2],
    ]);
  });
});
