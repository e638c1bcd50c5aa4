import { canonicalJson, corpusHash } from "./corpus-hash.js";
import { CORE_EMOTIONS, isCoreEmotion, type Emotion } from "./emotion.js";
import type { EmotionVector, ExtractionMethod } from "./emotion-vector.js";
import { AbortedError, InsufficientSamplesError, UnknownEmotionError, UnsupportedCapabilityError } from "./errors.js";
import { type ExtractionSettings, emotionVectorFromSamples, poolingFor } from "./extraction.js";
import { modelIdentity } from "./model-info.js";
import { type ContrastCorpusName, loadContrastCorpus, loadQueries, loadSystemPrompts } from "./prompts.js";
import { type PooledResponse, captureResponse } from "./response-capture.js";
import type { ChatMessage, SteeringBackend } from "./steering-backend.js";
import type { UserEmotion } from "./user-emotion.js";

/** Progress of {@link extractEmotionVectors}: `done` of `total` backend calls (generations, then captures). */
export interface ExtractionProgress {
  readonly phase: "generate" | "capture";
  readonly done: number;
  readonly total: number;
}

export interface ExtractEmotionVectorsOptions {
  /**
   * Emotions to extract. Defaults to the five core emotions, or to every user emotion when
   * `corpus` gives user emotions.
   */
  readonly emotions?: readonly Emotion[];
  /** Defaults to `"mean-diff"` (the paper). */
  readonly method?: ExtractionMethod;
  /** Method settings, e.g. `{ shrinkage: 0.2 }` for `"fisher"`. */
  readonly settings?: ExtractionSettings;
  /**
   * Where the neutral and emotional responses come from:
   * - `"fixed"`: the repo's contrast corpus, teacher-forced through the model. Default.
   * - `"self"`: the model answers each query itself, once with the neutral system prompt and
   *   once per emotion with that emotion's system prompt (greedy).
   * - `{ userEmotions }`: user-defined emotions; each one's `examples` are teacher-forced, or,
   *   without examples, the model answers the queries itself conditioned by its `conditioningPrompt`.
   */
  readonly corpus?: ContrastCorpusName | { readonly userEmotions: readonly UserEmotion[] };
  /**
   * User queries the model answers itself (`"self"` and user emotions without examples).
   * Defaults to the extraction split of the built-in queries.
   */
  readonly queries?: readonly string[];
  /** Use at most this many queries, spread evenly over the list. Defaults to all. */
  readonly maxQueries?: number;
  /**
   * Context of the teacher-forced pass for self-written responses: `"query"` (the user query only,
   * so the contrast is the response text alone) or `"system-prompt"` (also the system prompt the
   * response was written under). Defaults to `"query"`.
   */
  readonly context?: "query" | "system-prompt";
  /** Length of self-written responses, in tokens. Defaults to 64. */
  readonly maxTokens?: number;
  readonly onProgress?: (progress: ExtractionProgress) => void;
  readonly signal?: AbortSignal;
}

/** A response to teacher-force: fixed text, or what the model generates for `messages`. */
type ResponseSource = { readonly text: string } | { readonly generate: readonly ChatMessage[] };

interface Side {
  readonly context: readonly ChatMessage[];
  readonly response: ResponseSource;
}

interface Pair {
  readonly neutral: Side;
  readonly emotional: Side;
}

/**
 * Extracts one {@link EmotionVector} per emotion from `backend`: every response is teacher-forced
 * after its context, pooled over the response tokens, and the per-layer contrast samples go to
 * the chosen method. Each distinct text is generated and captured once (the neutral capture of a
 * query serves every emotion).
 */
export async function extractEmotionVectors(
  backend: SteeringBackend,
  options: ExtractEmotionVectorsOptions = {},
): Promise<Map<Emotion, EmotionVector>> {
  if (!backend.capabilities.capture)
    throw new UnsupportedCapabilityError(
      backend.name,
      "capture residual activations",
      "use a backend that can (e.g. llama.cpp or onnx) to extract vectors.",
    );
  const method = options.method ?? "mean-diff";
  const corpusLabel = typeof options.corpus === "object" ? "user" : (options.corpus ?? "fixed");
  const plan = planPairs(options);
  const generationKeys = uniqueSources(plan, (side) => ("generate" in side.response ? [canonicalJson(side.response.generate)] : []));
  const captureKeys = uniqueSources(plan, (side) => [canonicalJson(side)]);
  const total = generationKeys.size + captureKeys.size;
  let done = 0;
  const progress = (phase: ExtractionProgress["phase"]) => options.onProgress?.({ phase, done: ++done, total });
  const checkAbort = () => {
    if (options.signal?.aborted) throw new AbortedError("Emotion vector extraction");
  };
  const signal = options.signal ? { signal: options.signal } : {};

  const generated = new Map<string, string>();
  for (const [key, side] of generationKeys) {
    checkAbort();
    const messages = (side.response as { generate: readonly ChatMessage[] }).generate;
    const generation = await backend.generate(messages, { temperature: 0, maxTokens: options.maxTokens ?? 64, ...signal });
    generated.set(key, generation.text);
    progress("generate");
  }

  const captured = new Map<string, PooledResponse | null>();
  const pooling = poolingFor(method);
  for (const group of contextGroups(captureKeys)) {
    checkAbort();
    // The texts of one context (a query's neutral and emotional answers) are requested together:
    // an engine that batches concurrent captures (ONNX) evaluates their shared prompt once and the
    // answers in one pass; a serial one (llama.cpp) runs them in this order, which keeps the
    // prompt in its KV cache from one to the next. Each capture's result is the same either way.
    await Promise.all(
      group.map(async ([key, side]) => {
        const response = "text" in side.response ? side.response.text : generated.get(canonicalJson(side.response.generate))!;
        captured.set(key, await captureResponse(backend, side.context, response, { pooling, ...signal }));
        progress("capture");
      }),
    );
  }

  const { layerCount } = backend.model;
  const vectors = new Map<Emotion, EmotionVector>();
  for (const [emotion, pairs] of plan) {
    const layers = Array.from({ length: layerCount }, () => ({ emotional: [] as Float32Array[], neutral: [] as Float32Array[] }));
    const normSums = new Float64Array(layerCount);
    let count = 0;
    for (const pair of pairs) {
      const neutral = captured.get(canonicalJson(pair.neutral));
      const emotional = captured.get(canonicalJson(pair.emotional));
      // A self-written response can be empty (immediate end of turn): such a pair carries no contrast.
      if (!neutral || !emotional) continue;
      count++;
      neutral.layers.forEach((layer, i) => {
        layers[layer]!.neutral.push(neutral.pooled[i]!);
        layers[layer]!.emotional.push(emotional.pooled[i]!);
        normSums[layer]! += neutral.tokenNorms[i]!;
      });
    }
    if (count === 0) throw new InsufficientSamplesError(method, 1, 0);
    vectors.set(
      emotion,
      emotionVectorFromSamples({
        emotion,
        model: modelIdentity(backend.model),
        method,
        ...(options.settings ? { settings: options.settings } : {}),
        layers,
        residualNorms: Float32Array.from(normSums, (sum, layer) => (layer === 0 ? 0 : sum / count)),
        corpus: corpusLabel,
        corpusHash: corpusHash({
          pairs,
          maxTokens: corpusLabel === "fixed" || corpusLabel === "fixed-v2" ? undefined : (options.maxTokens ?? 64),
        }),
        backend: backend.name,
      }),
    );
  }
  return vectors;
}

/** The contrast pairs of every requested emotion. */
function planPairs(options: ExtractEmotionVectorsOptions): Map<Emotion, Pair[]> {
  const corpus = options.corpus ?? "fixed";
  const plan = new Map<Emotion, Pair[]>();
  if (corpus === "fixed" || corpus === "fixed-v2") {
    if (options.queries)
      throw new RangeError(
        `The ${corpus} corpus has its own queries; "queries" applies to "self" and user emotions. Use maxQueries to use fewer.`,
      );
    const emotions = requestedEmotions(options.emotions, CORE_EMOTIONS);
    const items = spread(loadContrastCorpus(corpus).items, options.maxQueries);
    const texts = new Map(loadQueries().queries.map((q) => [q.id, q.text]));
    for (const emotion of emotions) {
      plan.set(
        emotion,
        items.map((item) => {
          const query = texts.get(item.queryId);
          if (query === undefined)
            throw new RangeError(`Contrast corpus item "${item.queryId}" has no query in queries.json: the prompt files are out of sync.`);
          const context: ChatMessage[] = [{ role: "user", content: query }];
          return {
            neutral: { context, response: { text: item.neutral } },
            emotional: { context, response: { text: item.emotional[emotion as keyof typeof item.emotional] } },
          };
        }),
      );
    }
    return plan;
  }

  const queries = spread(
    options.queries ??
      loadQueries()
        .queries.filter((q) => q.split === "extraction")
        .map((q) => q.text),
    options.maxQueries,
  );
  const systemPrompts = loadSystemPrompts();
  const selfWritten = (conditioning: string, query: string): Pair => {
    const user: ChatMessage = { role: "user", content: query };
    const side = (system: string): Side => {
      const messages: ChatMessage[] = [{ role: "system", content: system }, user];
      return { context: options.context === "system-prompt" ? messages : [user], response: { generate: messages } };
    };
    return { neutral: side(systemPrompts.neutral), emotional: side(conditioning) };
  };
  if (corpus === "self") {
    for (const emotion of requestedEmotions(options.emotions, CORE_EMOTIONS)) {
      plan.set(
        emotion,
        queries.map((q) => selfWritten(systemPrompts.emotions[emotion as keyof typeof systemPrompts.emotions], q)),
      );
    }
    return plan;
  }

  const definitions = new Map(corpus.userEmotions.map((d) => [d.name, d]));
  for (const emotion of requestedEmotions(options.emotions, [...definitions.keys()])) {
    const definition = definitions.get(emotion)!;
    const examples = spread(definition.examples ?? [], options.maxQueries);
    plan.set(
      emotion,
      examples.length > 0
        ? examples.map((x) => {
            const context: ChatMessage[] = [{ role: "user", content: x.query }];
            return { neutral: { context, response: { text: x.neutral } }, emotional: { context, response: { text: x.emotional } } };
          })
        : queries.map((q) => selfWritten(definition.conditioningPrompt, q)),
    );
  }
  return plan;
}

function requestedEmotions(requested: readonly Emotion[] | undefined, available: readonly Emotion[]): readonly Emotion[] {
  const emotions = requested ?? available;
  for (const emotion of emotions) {
    if (!available.includes(emotion)) {
      throw new UnknownEmotionError(emotion, available);
    }
  }
  if (emotions.length === 0) throw new RangeError("No emotions to extract: pass at least one emotion.");
  return emotions;
}

/** At most `max` entries, evenly spaced so every part of the list (e.g. every emotion's queries) is represented. */
function spread<T>(list: readonly T[], max: number | undefined): readonly T[] {
  if (max === undefined || max >= list.length) return list;
  if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`maxQueries must be a whole number of at least 1, got ${max}.`);
  return Array.from({ length: max }, (_, i) => list[Math.floor((i * list.length) / max)]!);
}

/** Texts captured together at most: bounds what one batched pass holds. */
const CAPTURE_GROUP = 8;

/**
 * The sides to capture, grouped by context (first appearance order, groups of at most
 * {@link CAPTURE_GROUP}), so that texts sharing a prompt are captured one after the other.
 */
function contextGroups(sides: Map<string, Side>): [string, Side][][] {
  const byContext = new Map<string, [string, Side][]>();
  for (const entry of sides) {
    const context = canonicalJson(entry[1].context);
    const list = byContext.get(context) ?? [];
    list.push(entry);
    byContext.set(context, list);
  }
  const groups: [string, Side][][] = [];
  for (const list of byContext.values()) for (let i = 0; i < list.length; i += CAPTURE_GROUP) groups.push(list.slice(i, i + CAPTURE_GROUP));
  return groups;
}

function uniqueSources(plan: Map<Emotion, Pair[]>, keysOf: (side: Side) => string[]): Map<string, Side> {
  const unique = new Map<string, Side>();
  for (const pairs of plan.values()) {
    for (const pair of pairs) {
      for (const side of [pair.neutral, pair.emotional]) {
        for (const key of keysOf(side)) if (!unique.has(key)) unique.set(key, side);
      }
    }
  }
  return unique;
}
