import { describe, expect, it } from "vitest";
import {
  FingerprintMismatchError,
  Steerer,
  UnknownEmotionError,
  UnsupportedCapabilityError,
  extractEmotionVectors,
  resolveSteering,
} from "../src/index.js";
import { LinearBackend, linearModel } from "./linear-backend.js";

describe("Steerer", () => {
  it("extracts vectors on create and generates with emotions by name", async () => {
    const backend = new LinearBackend();
    const steerer = await Steerer.create(backend, { extraction: { emotions: ["joy", "fear"], maxQueries: 2 } });
    expect([...steerer.vectors.keys()]).toEqual(["joy", "fear"]);

    const generation = await steerer.generate(
      "How do I bake bread?",
      { joy: 1.5, fear: -1 },
      { maxTokens: 12, layers: { from: 2, to: 3 }, injection: "per-layer" },
    );
    expect(generation.text).toBe("I feel calm ");
    const call = backend.generations.at(-1)!;
    expect(call.messages).toEqual([{ role: "user", content: "How do I bake bread?" }]);
    expect(call.options.maxTokens).toBe(12);
    // The backend receives 1.5·joy − fear on layers 2..3 only.
    const tensor = resolveSteering(call.options.steering!, linearModel);
    const joy = steerer.vectors.get("joy")!;
    const fear = steerer.vectors.get("fear")!;
    for (let layer = 0; layer < 4; layer++) {
      const row = tensor.data.subarray(layer * 6, (layer + 1) * 6);
      row.forEach((x, i) => {
        const expected = layer >= 2 ? Math.fround(1.5 * joy.directions[layer]![i]! - fear.directions[layer]![i]!) : 0;
        expect(x).toBeCloseTo(expected, 5);
      });
    }

    await steerer.generate([{ role: "user", content: "Hi" }]);
    expect(backend.generations.at(-1)!.options.steering).toBeNull();
  });

  it("uses given vectors after checking them against the model", async () => {
    const vectors = await extractEmotionVectors(new LinearBackend(), { emotions: ["anger"], maxQueries: 2 });
    const steerer = await Steerer.create(new LinearBackend(), { vectors });
    expect(steerer.vectors.get("anger")).toBe(vectors.get("anger"));
    const other = new LinearBackend();
    Object.defineProperty(other, "model", { value: { ...linearModel, fingerprint: "ffffffffffffffff" } });
    await expect(Steerer.create(other, { vectors })).rejects.toThrow(FingerprintMismatchError);
    const accepting = await Steerer.create(other, { vectors, allowFingerprintMismatch: true });
    expect(accepting.vectors.size).toBe(1);
    // What the backend receives must pass the backend's own check against its model too.
    await accepting.generate("Hi", { anger: 1 }, { maxTokens: 2 });
    const spec = other.generations.at(-1)!.options.steering!;
    expect(resolveSteering(spec, other.model).isZero).toBe(false);
    // Without the option the spec carries no acceptance: an engine resolving it refuses it.
    const strict = await Steerer.create(new LinearBackend(), { vectors });
    expect(() => resolveSteering(strict.steering({ anger: 1 }), other.model)).toThrow(FingerprintMismatchError);
  });

  it("names unknown emotions and missing capabilities", async () => {
    const vectors = await extractEmotionVectors(new LinearBackend(), { emotions: ["anger"], maxQueries: 2 });
    const steerer = await Steerer.create(new LinearBackend(), { vectors });
    await expect(steerer.generate("Hi", { joy: 1 })).rejects.toThrow(UnknownEmotionError);
    await expect(steerer.generate("Hi", { joy: 1 })).rejects.toThrow(/available: anger/);
    const noSteering = await Steerer.create(new LinearBackend({ steering: false }), { vectors });
    await expect(noSteering.generate("Hi", { anger: 1 })).rejects.toThrow(UnsupportedCapabilityError);
  });
});
