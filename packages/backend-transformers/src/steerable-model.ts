import { yieldToEventLoop } from "@emosteer/core/engine";
import {
  AutoConfig,
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  type DataType,
  type DeviceType,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type ProgressInfo,
} from "@huggingface/transformers";
import { AbortedError, EmosteerError, NotSteerableModelError } from "@emosteer/core";

/** Name of the graph input that receives the `batch × layerCount × hiddenSize` steering tensor. */
export const STEERING_INPUT = "steering";
/** Prefix of the graph outputs holding the residual stream after each block. */
export const HIDDEN_STATE_PREFIX = "hidden_states.";

/** Weight precisions an exported folder offers. */
export type Precision = "fp32" | "q4";

const DTYPE: Record<Precision, DataType> = { fp32: "fp32", q4: "q4" };

/** The part of an onnxruntime session (node or web) this package touches. */
export interface GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, unknown>, fetches?: unknown, options?: unknown): Promise<Record<string, unknown>>;
}

/**
 * Chooses which graph outputs each run fetches. transformers.js fetches every output on every
 * step; without this, generation would copy every layer's hidden states out of the runtime for
 * each token.
 */
export class OutputSelection {
  private override: readonly string[] | null = null;
  constructor(private readonly generation: readonly string[]) {}

  /** Outputs for the next run: logits and the KV cache unless {@link only} says otherwise. */
  names(): string[] {
    return [...(this.override ?? this.generation)];
  }

  /** Runs `work` fetching just `names` (callers are serialised by the backend). */
  async only<T>(names: readonly string[], work: () => Promise<T>): Promise<T> {
    this.override = names;
    try {
      return await work();
    } finally {
      this.override = null;
    }
  }
}

export interface SteerableModel {
  readonly model: PreTrainedModel;
  readonly tokenizer: PreTrainedTokenizer;
  readonly session: GraphSession;
  readonly outputs: OutputSelection;
  /** `hidden_states.{k}` outputs the graph has, by block index. */
  readonly hiddenStateLayers: readonly number[];
  /**
   * Set during a generate() that steers its phases differently (apply: "prompt" | "generation"):
   * the session's first run (the prompt pass) takes `prompt`, every later run `generation`.
   */
  phasedSteering: { readonly prompt: unknown; readonly generation: unknown; runs: number } | null;
}

export interface LoadSteerableModelOptions {
  /** A local folder path (Node) or URL path (browser), or a hub repository id. */
  readonly source: string;
  readonly fromHub: boolean;
  /** Hub: the file variant to load. Folder: checked against the precision the exporter recorded, when given. */
  readonly precision?: Precision;
  readonly device?: DeviceType;
  readonly onProgress?: (progress: { readonly file: string; readonly loaded: number; readonly total: number }) => void;
  readonly signal?: AbortSignal;
}

const EXPORT_HINT =
  "its ONNX graph has no `steering` input. Export the GGUF model with emosteer's exporter " +
  "(@emosteer/onnx-export: exportGgufToOnnx(), or packages/onnx-export/scripts/export.ts <model.gguf> [fp32|q4]), " +
  "which adds the input, and load the folder it writes.";

/** Loads tokenizer + causal-LM session and checks that the graph takes steering before anything can generate. */
export async function loadSteerableModel(options: LoadSteerableModelOptions): Promise<SteerableModel> {
  const { source, fromHub, precision, device, onProgress, signal } = options;
  // Absolute paths are not hub ids, so transformers.js reads them as they are (fs in Node, fetch in browsers).
  env.allowLocalModels = true;
  if (fromHub) env.allowRemoteModels = true;
  const progress_callback = onProgress
    ? (info: ProgressInfo) => {
        if (info.status === "progress") onProgress({ file: info.file, loaded: info.loaded, total: info.total });
      }
    : undefined;
  const common = { local_files_only: !fromHub, progress_callback };
  const config = await AutoConfig.from_pretrained(source, common);
  const exported = (config as unknown as { emosteer?: { precision?: string } }).emosteer;
  if (!fromHub && precision && exported?.precision && exported.precision !== precision) {
    throw new EmosteerError(
      `${source} holds the ${exported.precision} export, but precision "${precision}" was asked for: ` +
        `export the model again with precision ${precision} (the exporter writes one folder per precision) and load that folder.`,
    );
  }
  const tokenizer = await AutoTokenizer.from_pretrained(source, common);
  if (signal?.aborted) throw new AbortedError("Loading the model");
  const model = await AutoModelForCausalLM.from_pretrained(source, {
    ...common,
    config,
    // An exported folder holds one precision as onnx/model.onnx and says so in config.json.
    ...(fromHub ? { dtype: DTYPE[precision ?? "fp32"] } : {}),
    ...(device ? { device } : {}),
  });
  const session = (model.sessions as Record<string, GraphSession | undefined>)["model"];
  if (!session || !session.inputNames.includes(STEERING_INPUT)) {
    await model.dispose();
    throw new NotSteerableModelError(source, EXPORT_HINT);
  }
  if (signal?.aborted) {
    await model.dispose();
    throw new AbortedError("Loading the model");
  }
  // generate() forwards only kwargs named in forward_params; this lets `steering` reach every step.
  (model as unknown as { forward_params: string[] }).forward_params.push(STEERING_INPUT);

  const outputs = new OutputSelection(session.outputNames.filter((name) => !name.startsWith(HIDDEN_STATE_PREFIX)));
  const run = session.run.bind(session);
  // transformers.js calls run(feeds) with no fetch list; a caller that gives one keeps it.
  // After each run the event loop gets a turn (onnxruntime-node computes on the calling thread), so
  // an abort from a socket or timer is seen between tokens; after a prompt pass (several tokens)
  // it waits for a timer turn, so timers that came due during it fire before the first token.
  const loaded: SteerableModel = { model, tokenizer, session, outputs, hiddenStateLayers: [], phasedSteering: null };
  (session as { run: GraphSession["run"] }).run = async (feeds, fetches, runOptions) => {
    const phased = loaded.phasedSteering;
    if (phased && STEERING_INPUT in feeds) feeds = { ...feeds, [STEERING_INPUT]: phased.runs++ === 0 ? phased.prompt : phased.generation };
    const result = await (fetches === undefined ? run(feeds, outputs.names()) : run(feeds, fetches, runOptions));
    const ids = (feeds as Record<string, { dims?: readonly number[] } | undefined>)["input_ids"];
    await yieldToEventLoop({ timers: (ids?.dims?.at(-1) ?? 1) > 1 });
    return result;
  };

  const hiddenStateLayers = session.outputNames
    .filter((name) => name.startsWith(HIDDEN_STATE_PREFIX))
    .map((name) => Number(name.slice(HIDDEN_STATE_PREFIX.length)))
    .filter((layer) => Number.isInteger(layer))
    .sort((a, b) => a - b);
  (loaded as { hiddenStateLayers: readonly number[] }).hiddenStateLayers = hiddenStateLayers;
  return loaded;
}
