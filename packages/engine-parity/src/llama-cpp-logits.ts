import type { SteeringBackend } from "@emosteer/core";

/**
 * The parts of @emosteer/backend-llamacpp's backend object used to read raw logits (its patched
 * addon's `getBatchLogits`). They are internals of that package, read here only for parity checks;
 * if they change, this throws rather than guessing.
 */
interface LlamaCppInternals {
  readonly generationSlot: { readonly native: { disposeSequence(id: number): void; getBatchLogits(): Float32Array } };
  readonly queue: { run<T>(task: () => Promise<T>): Promise<T> };
  readonly contextOptions: { readonly contextSize: number };
  decode(
    ctx: unknown,
    tokens: readonly number[],
    firstPosition: number,
    outputs: readonly number[],
    signal: AbortSignal | undefined,
    afterChunk?: (outputCount: number) => void,
  ): Promise<unknown>;
}

function internals(backend: SteeringBackend): LlamaCppInternals {
  const b = backend as unknown as Partial<LlamaCppInternals>;
  if (backend.name !== "llama.cpp" || !b.generationSlot?.native?.getBatchLogits || typeof b.decode !== "function" || !b.queue || !b.contextOptions) {
    throw new Error(`llamaCppLogits needs a backend from @emosteer/backend-llamacpp with the patched getBatchLogits (got "${backend.name}"); its internals may have changed.`);
  }
  return b as LlamaCppInternals;
}

/**
 * llama.cpp's raw logits for every position of `tokens` (teacher-forced from an empty cache,
 * unsteered): `tokens.length × vocab` floats, row p predicting token p + 1.
 */
export async function llamaCppLogits(backend: SteeringBackend, tokens: readonly number[]): Promise<Float32Array> {
  const b = internals(backend);
  if (tokens.length > b.contextOptions.contextSize) throw new RangeError(`${tokens.length} tokens exceed the llama.cpp context of ${b.contextOptions.contextSize}.`);
  const vocab = backend.model.vocabSize;
  return b.queue.run(async () => {
    const ctx = b.generationSlot.native;
    ctx.disposeSequence(0);
    const out = new Float32Array(tokens.length * vocab);
    let filled = 0;
    try {
      await b.decode(ctx, tokens, 0, Array.from(tokens, (_, i) => i), undefined, (outputCount) => {
        const logits = ctx.getBatchLogits();
        if (logits.length !== outputCount * vocab) throw new Error(`getBatchLogits returned ${logits.length} floats for ${outputCount} outputs of vocab ${vocab}.`);
        out.set(logits, filled * vocab);
        filled += outputCount;
      });
    } finally {
      ctx.disposeSequence(0);
    }
    if (filled !== tokens.length) throw new Error(`llama.cpp returned logits for ${filled} of ${tokens.length} positions.`);
    return out;
  });
}
