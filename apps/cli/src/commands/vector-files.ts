import { existsSync } from "node:fs";
import { EmosteerError, ForeignVectorFileError, InvalidFileError, type Emotion, type EmotionVector, type ModelInfo } from "@emosteer/core";
import { loadVectorFile } from "@emosteer/core/node";
import { UsageError } from "../usage-error.js";

export const VECTOR_HELP = `  --vector FILE         an emosteer vector file (from "emosteer extract --out"); repeatable
  --vector EMOTION=FILE a control-vector file of another tool (repeng's export_gguf,
                        llama-cvector-generator) imported as EMOTION; checked against the model's
                        layer count and hidden size, and applied with per-layer injection as
                        llama.cpp applies it (α·direction.k at every layer) unless --injection says otherwise`;

/** One `--vector` value: `FILE`, or `EMOTION=FILE` to name the emotion a (foreign) file encodes. */
export interface VectorArgument {
  readonly path: string;
  readonly emotion: Emotion | undefined;
}

const NAMED = /^([a-z][a-z0-9_-]*)=(.+)$/;

export function parseVectorArgument(value: string): VectorArgument {
  // A file whose name happens to look like "joy=…" is still that file.
  const named = existsSync(value) ? null : NAMED.exec(value);
  const argument = named ? { emotion: named[1]!, path: named[2]! } : { emotion: undefined, path: value };
  if (!existsSync(argument.path)) throw new UsageError(`--vector: no such file "${argument.path}"`);
  return argument;
}

/** A loaded `--vector`; `foreign` when the file had no emosteer metadata (repeng, llama.cpp). */
export interface LoadedVector {
  readonly path: string;
  readonly vector: EmotionVector;
  readonly foreign: boolean;
}

/**
 * Core's checks (format, shape, model fingerprint) with the file named, so it is clear which
 * --vector is wrong. A foreign file needs the emotion it encodes: say how to give it on this
 * command line (core's own message names the library's option).
 */
export async function loadVectorArgument(argument: VectorArgument, model: ModelInfo): Promise<LoadedVector> {
  const { path, emotion } = argument;
  try {
    const vector = await loadVectorFile(path, { expectedModel: model, ...(emotion !== undefined ? { emotion } : {}) });
    return { path, vector, foreign: vector.provenance.method === "imported" };
  } catch (error) {
    if (error instanceof ForeignVectorFileError) {
      throw new UsageError(
        `--vector ${path}: this control-vector file has no emosteer metadata (made by repeng or llama-cvector-generator?): name the emotion it encodes, e.g. --vector joy=${path}`,
      );
    }
    // InvalidFileError and file-system errors already carry the path; core's shape checks of a foreign file start with it.
    if (error instanceof EmosteerError && !(error instanceof InvalidFileError)) {
      const message = error.message.startsWith(`${path}: `) ? error.message.slice(path.length + 2) : error.message;
      throw new EmosteerError(`--vector ${path}: ${message}`, { cause: error });
    }
    throw error;
  }
}

/** What the user is told about a foreign file: what was checked and how it is applied. */
export function describeImport(loaded: LoadedVector, injection: "per-layer" | "net-shift", chosen: boolean): string {
  const { vector } = loaded;
  const layers = vector.norms().filter((n) => n > 0).length;
  const hint = vector.provenance.settings["modelHint"];
  const how =
    injection === "per-layer"
      ? `applied with per-layer injection${chosen ? "" : ", as repeng and llama.cpp apply it"} (α·direction.k added at every layer${chosen ? "" : "; --injection net-shift applies it as an emosteer vector"})`
      : "applied with net-shift injection (α·direction.k is the total shift at layer k)";
  return (
    `note: ${loaded.path} has no emosteer metadata (a repeng or llama.cpp control vector${typeof hint === "string" ? ` for "${hint}"` : ""}): ` +
    `imported as "${vector.emotion}", ${layers} of ${vector.layerCount - 1} steerable layers, hidden size ${vector.hiddenSize} as the model's; ${how}`
  );
}
