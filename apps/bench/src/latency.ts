import { steeringFromWeights, type Emotion, type EmotionVector, type Generation } from "@emosteer/core";
import type { EngineContext } from "./engine-context.js";
import { generateOptions } from "./execute-cell.js";

/**
 * Interleaved latency pairs on one query: unsteered then steered (first grid emotion at α = 1),
 * `latencyReps` times, so both see the same machine load.
 */
export async function measureLatency(ctx: EngineContext, vectors: Map<Emotion, EmotionVector>): Promise<void> {
  const { options, store, backend, spec, progress } = ctx;
  const query = ctx.queries[0];
  const emotion = ctx.emotions.find((e) => vectors.has(e));
  if (!query || !emotion) return;
  const steering = steeringFromWeights(vectors, { [emotion]: 1 });
  const todo: [number, boolean][] = [];
  for (let rep = 0; rep < options.latencyReps; rep++) {
    for (const steered of [false, true])
      if (!(await store.hasLatency(spec.id, backend.name, options.latencyTokens, rep, steered))) todo.push([rep, steered]);
  }
  if (todo.length === 0) return;
  progress.start(`${spec.id}/${backend.name} latency`, options.latencyReps * 2, options.latencyReps * 2 - todo.length);
  for (const [rep, steered] of todo) {
    const g: Generation = await backend.generate(
      [{ role: "user", content: query.text }],
      generateOptions(options, steered ? steering : null, ctx.signal, options.latencyTokens),
    );
    await store.putLatency({
      model: spec.id,
      backend: backend.name,
      maxTokens: options.latencyTokens,
      rep,
      steered,
      promptTokens: g.timings.promptTokens,
      generatedTokens: g.timings.generatedTokens,
      promptMs: g.timings.promptMs,
      decodeMs: g.timings.decodeMs,
      firstTokenMs: g.timings.firstTokenMs,
      runId: ctx.runId,
    });
    progress.tick(steered ? "steered" : "unsteered");
  }
  progress.finish();
}
