// Model-free: the request → steering translation and the scheduler, on synthetic vectors.
import { EmotionVector, type ModelInfo } from "@emosteer/core";
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api-error.js";
import { requestSteering } from "../src/request-steering.js";
import { Scheduler } from "../src/scheduler.js";
import { repetitionScore, REPETITIVE } from "../playground/repetition.js";

const model = { architecture: "llama", name: "tiny", layerCount: 4, hiddenSize: 3, fingerprint: "f" } as unknown as ModelInfo;
const vector = (emotion: string, x: number) =>
  new EmotionVector({
    emotion,
    model,
    directions: [new Float32Array(3), Float32Array.of(x, 0, 0), Float32Array.of(0, x, 0), Float32Array.of(0, 0, x)],
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: 2,
      corpus: "fixed",
      corpusHash: "h",
      backend: "test",
      createdAt: "2026-01-01T00:00:00Z",
    },
  });
const vectors = new Map([
  ["joy", vector("joy", 1)],
  ["fear", vector("fear", 2)],
]);
const limits = { maxAlpha: 4, maxTerms: 16 };

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error("expected an ApiError");
}

describe("requestSteering", () => {
  it("turns emotions into a spec and reports the applied steering; zero α is left out", () => {
    const { spec, applied } = requestSteering({ emotions: { joy: 1.5, fear: 0 } }, vectors, model, limits);
    expect(spec!.terms.map((t) => [t.vector.emotion, t.alpha])).toEqual([["joy", 1.5]]);
    expect(applied).toEqual({ terms: [{ vector: "joy", alpha: 1.5 }], layers: { from: 1, to: 3 }, apply: "both", injection: "net-shift" });
    expect(requestSteering({ emotions: { joy: 0 } }, vectors, model, limits)).toEqual({ spec: null, applied: null });
    expect(requestSteering({}, vectors, model, limits)).toEqual({ spec: null, applied: null });
  });

  it("passes the steered phase through: prompt, generation or both", () => {
    for (const apply of ["prompt", "generation", "both"] as const) {
      const { spec, applied } = requestSteering({ steering: { terms: [{ vector: "joy", alpha: 1 }], apply } }, vectors, model, limits);
      expect(spec!.apply).toBe(apply);
      expect(applied!.apply).toBe(apply);
    }
  });

  it("reads a calibrated vector's weight in the emotions form as its profile's α on its layers; the explicit form stays raw α", () => {
    const profile = {
      layers: { from: 2, to: 3 },
      injection: "per-layer" as const,
      alpha: 0.5,
      judge: "j",
      objective: { eps: 0.9, fidelity: 0.7, perplexityRatio: 1.1, distinct2Ratio: 1 },
      searchedOn: { split: "extraction", queries: 8 },
    };
    const calibrated = new Map([...vectors, ["joy", vectors.get("joy")!.withProfile(profile)]]);
    const { spec, applied } = requestSteering({ emotions: { joy: 2, fear: 1 } }, calibrated, model, limits);
    expect(spec!.terms.map((t) => [t.vector.emotion, t.alpha, t.layers, t.injection])).toEqual([
      ["joy", 1, { from: 2, to: 3 }, "per-layer"],
      ["fear", 1, undefined, undefined],
    ]);
    expect(applied!.terms).toEqual([
      { vector: "joy", alpha: 1, weight: 2, layers: { from: 2, to: 3 }, injection: "per-layer" },
      { vector: "fear", alpha: 1 },
    ]);
    // Resolved as a mix: joy only on blocks 2..3 (per-layer: α·EV there), fear net-shift on 1..3.
    const explicit = requestSteering({ steering: { terms: [{ vector: "joy", alpha: 2 }] } }, calibrated, model, limits);
    expect(explicit.spec!.terms[0]).toMatchObject({ alpha: 2 });
    expect(explicit.spec!.terms[0]!.layers).toBeUndefined();
    // The limit bounds the α really added: weight 4 × profile α 0.5 = 2 passes, weight 4 on α 2 would not.
    const strong = new Map([["joy", vectors.get("joy")!.withProfile({ ...profile, alpha: 2 })]]);
    expect(refusal(() => requestSteering({ emotions: { joy: 3 } }, strong, model, limits)).message).toMatch(
      /weight 1 = α 2.*means α 6.*from −2 to 2/,
    );
  });

  it("takes the explicit form with named and inline vectors and a layer list", () => {
    const data = Buffer.from(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]).buffer).toString("base64");
    const { spec, applied } = requestSteering(
      {
        steering: {
          terms: [
            { vector: "fear", alpha: -1 },
            { vector: { data, name: "mine" }, alpha: 2 },
          ],
          layers: [1, 3],
        },
      },
      vectors,
      model,
      limits,
    );
    expect(spec!.terms[1]!.vector.directions[2]).toEqual(Float32Array.of(0, 1, 0));
    expect(applied).toMatchObject({
      terms: [
        { vector: "fear", alpha: -1 },
        { vector: "mine", alpha: 2 },
      ],
      layers: [1, 3],
    });
  });

  it("refuses what is not allowed with a 400 that says what is", () => {
    expect(refusal(() => requestSteering({ emotions: { awe: 1 } }, vectors, model, limits))).toMatchObject({
      status: 400,
      param: "emotions.awe",
      code: "unknown_emotion",
      message: expect.stringMatching(/joy, fear/),
    });
    expect(refusal(() => requestSteering({ emotions: { joy: 4.5 } }, vectors, model, limits)).message).toMatch(/from −4 to 4/);
    expect(refusal(() => requestSteering({ emotions: { joy: Number.NaN } }, vectors, model, limits)).code).toBe("invalid_alpha");
    for (const name of ["../joy", "/etc/passwd", "joy.gguf", "C:\\joy", "~/joy"]) {
      expect(refusal(() => requestSteering({ steering: { terms: [{ vector: name, alpha: 1 }] } }, vectors, model, limits)).code).toBe(
        "invalid_vector_name",
      );
    }
    expect(
      refusal(() =>
        requestSteering({ steering: { terms: [{ vector: "joy", alpha: 1 }], layers: { from: 0, to: 3 } } }, vectors, model, limits),
      ).message,
    ).toMatch(/Layer 0 cannot be steered/);
    const nan = Buffer.from(new Float32Array([0, 0, 0, Number.NaN, 0, 0, 0, 0, 0, 0, 0, 0]).buffer).toString("base64");
    expect(
      refusal(() => requestSteering({ steering: { terms: [{ vector: { data: nan }, alpha: 1 }] } }, vectors, model, limits)).message,
    ).toMatch(/value 3 is NaN/);
  });
});

describe("Scheduler", () => {
  it("runs one job per slot in order, refuses beyond the queue with a 429, and drops a job aborted while queued", async () => {
    const scheduler = new Scheduler({ slots: 1, maxQueue: 1 });
    const order: string[] = [];
    let release!: () => void;
    const first = scheduler.run(
      () =>
        new Promise<void>((r) => {
          release = () => {
            order.push("first");
            r();
          };
        }),
      new AbortController().signal,
    );
    const waiting = new AbortController();
    const second = scheduler.run(async () => void order.push("second"), waiting.signal);
    expect([scheduler.running, scheduler.queued]).toEqual([1, 1]);
    const full = refusal(() => scheduler.run(async () => undefined, new AbortController().signal));
    expect(full).toMatchObject({ status: 429, code: "queue_full" });
    expect(Number(full.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    waiting.abort("disconnect");
    await expect(second).rejects.toBe("disconnect");
    expect(scheduler.queued).toBe(0);
    const third = scheduler.run(async () => void order.push("third"), new AbortController().signal);
    const drained = scheduler.drain();
    expect(refusal(() => scheduler.run(async () => undefined, new AbortController().signal)).status).toBe(503);
    release();
    await Promise.all([first, third, drained]);
    expect(order).toEqual(["first", "third"]);
  });
});

describe("repetitionScore", () => {
  it("is low for ordinary text and high for a loop", () => {
    expect(
      repetitionScore(
        "To bake bread you need flour, water, yeast and salt. Mix them, knead the dough for ten minutes, let it rise for an hour and bake it.",
      ),
    ).toBeLessThan(REPETITIVE);
    expect(repetitionScore("I am so happy! ".repeat(8))).toBeGreaterThanOrEqual(REPETITIVE);
    expect(repetitionScore("Yay!!!!!!!!!!!!!!!!!!!!!!!")).toBeGreaterThanOrEqual(REPETITIVE);
  });
});
