import { InvalidFileError, type ModelInfo } from "@emosteer/core";

/** The `emosteer` block the exporter writes into config.json. */
interface EmosteerConfigBlock {
  readonly architecture?: string;
  readonly name?: string;
  readonly fingerprint?: string;
  readonly contextLength?: number;
}

/**
 * ModelInfo of an exported (or hub) model from its config.json. The exporter's `emosteer` block
 * carries the GGUF identity (architecture, name, fingerprint) that emotion vectors are bound to; a
 * hub model without it gets an empty fingerprint, so only vectors loaded with
 * `allowFingerprintMismatch` apply to it.
 */
export function modelInfoFromConfig(config: Record<string, unknown>, source: string, chatTemplate: string | null): ModelInfo {
  const block = (config["emosteer"] ?? {}) as EmosteerConfigBlock;
  const textConfig = (config["text_config"] ?? null) as Record<string, unknown> | null;
  const own = textConfig ? { ...config, ...textConfig } : config;
  const count = (key: string): number => {
    const value = own[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      throw new InvalidFileError(`${source}/config.json`, `"${key}" must be a positive integer, found ${JSON.stringify(value)}`);
    }
    return value;
  };
  const modelType = String(own["model_type"] ?? "");
  return {
    architecture: block.architecture ?? modelType,
    name: block.name ?? (typeof own["_name_or_path"] === "string" ? (own["_name_or_path"] as string) : source),
    layerCount: count("num_hidden_layers"),
    hiddenSize: count("hidden_size"),
    vocabSize: count("vocab_size"),
    contextLength: block.contextLength ?? count("max_position_embeddings"),
    fingerprint: block.fingerprint ?? "",
    ...(chatTemplate ? { chatTemplate } : {}),
  };
}
