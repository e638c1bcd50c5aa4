import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { SteeringBackend } from "@emosteer/core";

/**
 * Version of how a cell's text is produced by the bench's own code (prompt assembly, which
 * messages a condition sends, how vectors are combined). Bump it when that code changes what a
 * cell's text would be, so that stored cells are not reused for the new format.
 */
export const CELL_FORMAT_VERSION = 2;

/**
 * The steering the bench applies: core's defaults, spelled out so a change of default shows up
 * as a different setup instead of silently reusing cells.
 */
export const BENCH_STEERING = {
  layers: "1..L-1",
  injection: "net-shift",
  normalization: "none",
  layerScale: "none",
  profile: "bench-default",
} as const;

/**
 * Everything besides a cell's grid coordinates (model id, engine, condition, query, max tokens,
 * seed) that changes the text a model and engine write. One per model × engine × run settings;
 * cells are keyed by its hash, so any change of it makes new cells instead of reusing old ones.
 */
export interface EngineSetup {
  readonly format: number;
  /** The weights: ModelInfo.fingerprint (sha256 prefix of the GGUF). */
  readonly fingerprint: string;
  readonly engine: string;
  /** The engine's numerics: the library and version that computes, and its precision. */
  readonly numerics: string;
  /** sha256 (16 hex) of the chat-formatted probe conversation: any template change (or fix) changes it. */
  readonly chatTemplate: string;
  readonly steering: typeof BENCH_STEERING;
  readonly sampling: { readonly temperature: number; readonly topK: number | null; readonly topP: number | null };
}

/** sha256 of a string, first `hex` hex digits. */
export function hashText(text: string, hex = 16): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, hex);
}

/** JSON with keys sorted, so equal objects hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function setupHash(setup: EngineSetup): string {
  return hashText(canonicalJson(setup));
}

/** The fields in which two setups differ, as `field: stored → wanted` lines; empty when equal. */
export function setupDifferences(stored: EngineSetup, wanted: EngineSetup): string[] {
  const flat = (o: unknown, prefix = ""): Map<string, string> => {
    const out = new Map<string, string>();
    if (o && typeof o === "object" && !Array.isArray(o)) {
      for (const [k, v] of Object.entries(o as Record<string, unknown>))
        for (const [kk, vv] of flat(v, prefix ? `${prefix}.${k}` : k)) out.set(kk, vv);
    } else out.set(prefix, JSON.stringify(o ?? null));
    return out;
  };
  const a = flat(stored);
  const b = flat(wanted);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? "(absent)"} → ${b.get(k) ?? "(absent)"}`);
}

/** A conversation with a system and a user turn: enough to see every part of a chat template the bench uses. */
const TEMPLATE_PROBE = [
  { role: "system", content: "S" },
  { role: "user", content: "U" },
] as const;

/** Hash of what the engine's chat template makes of the probe (with and without a system turn). */
export function chatTemplateHash(backend: Pick<SteeringBackend, "formatChat">): string {
  const render = (messages: readonly { role: "system" | "user"; content: string }[]) => {
    try {
      return backend.formatChat(messages, { addGenerationPrompt: true });
    } catch (error) {
      return `error: ${(error as Error).message}`;
    }
  };
  return hashText(`${render(TEMPLATE_PROBE.slice(1))}\u0000${render(TEMPLATE_PROBE)}`);
}

/** The library behind each engine, by the engine's name. */
const ENGINE_LIBRARIES: Readonly<Record<string, { readonly pkg: string; readonly dep: string; readonly precision: string }>> = {
  "llama.cpp": { pkg: "backend-llamacpp", dep: "node-llama-cpp", precision: "gguf weights as stored, ggml CPU kernels" },
  onnx: { pkg: "backend-onnx", dep: "onnxruntime-node", precision: "fp32 export, onnxruntime CPU" },
  "transformers.js": {
    pkg: "backend-transformers",
    dep: "@huggingface/transformers",
    precision: "fp32 export, onnxruntime-node via transformers.js",
  },
};

/** Version of the library an engine computes with (`"unknown"` when its package cannot be read). */
export function engineLibraryVersion(engine: string): { readonly library: string; readonly version: string } {
  const lib = ENGINE_LIBRARIES[engine];
  if (!lib) return { library: "unknown", version: "unknown" };
  try {
    const url = new URL(`../../../packages/${lib.pkg}/node_modules/${lib.dep}/package.json`, import.meta.url);
    return { library: lib.dep, version: String((JSON.parse(readFileSync(url, "utf8")) as { version?: string }).version ?? "unknown") };
  } catch {
    return { library: lib.dep, version: "unknown" };
  }
}

/** Every engine's library and version, for the run's provenance. */
export function engineLibraryVersions(): Record<string, string> {
  return Object.fromEntries(
    Object.keys(ENGINE_LIBRARIES).map((e) => {
      const v = engineLibraryVersion(e);
      return [e, `${v.library} ${v.version}`];
    }),
  );
}

export function engineNumerics(engine: string): string {
  const v = engineLibraryVersion(engine);
  return `${v.library} ${v.version}; ${ENGINE_LIBRARIES[engine]?.precision ?? "unknown"}`;
}

/** The setup of an open engine for a run with this temperature. */
export function engineSetup(
  backend: Pick<SteeringBackend, "name" | "model" | "formatChat">,
  sampling: { readonly temperature: number },
): EngineSetup {
  return {
    format: CELL_FORMAT_VERSION,
    fingerprint: backend.model.fingerprint,
    engine: backend.name,
    numerics: engineNumerics(backend.name),
    chatTemplate: chatTemplateHash(backend),
    steering: BENCH_STEERING,
    sampling: { temperature: sampling.temperature, topK: null, topP: null },
  };
}
