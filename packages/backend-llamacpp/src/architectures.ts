/**
 * GGUF architectures whose llama.cpp graph (src/models/<arch>.cpp of the bundled llama.cpp) both
 * adds the control vector at the end of every block (`cvec.apply_to` / `build_cvec`) and names the
 * block output `l_out-<il>`, so steering and capture work. Derived by reading the graph builders
 * of the llama.cpp version node-llama-cpp 3.21.1 bundles; architectures missing from this list
 * (e.g. minicpm, granitemoe, phimoe, bert-style encoders, mamba2) do neither, or were not checked.
 * Only {@link TESTED_ARCHITECTURES} are tested; opening a model of any other one warns (untested).
 */
const STEERABLE_ARCHITECTURES: ReadonlySet<string> = new Set([
  "llama",
  "llama4",
  "mistral3",
  "qwen",
  "qwen2",
  "qwen2moe",
  "qwen2vl",
  "qwen3",
  "qwen3moe",
  "qwen3next",
  "gemma",
  "gemma2",
  "gemma3",
  "gemma3n",
  "phi2",
  "phi3",
  "smollm3",
  "olmo",
  "olmo2",
  "olmoe",
  "granite",
  "stablelm",
  "starcoder",
  "starcoder2",
  "gpt2",
  "gptneox",
  "falcon",
  "bloom",
  "mpt",
  "baichuan",
  "internlm2",
  "exaone",
  "exaone4",
  "cohere2",
  "command-r",
  "deepseek",
  "deepseek2",
  "glm4",
  "nemotron",
  "orion",
  "deci",
  "ernie4_5",
  "lfm2",
]);

/**
 * The architectures of the model registry, where steering and capture on llama.cpp are proven on
 * synthetic weights in each family's real layout (packages/engine-parity,
 * synthetic-families.test.ts: a vector at the middle layer shifts the captured `l_out` by exactly
 * itself, and the ONNX export and transformers.js agree with llama.cpp steered and unsteered). The
 * rest of {@link STEERABLE_ARCHITECTURES} comes from reading llama.cpp's graph code only.
 */
export const TESTED_ARCHITECTURES: ReadonlySet<string> = new Set(["llama", "qwen2", "gemma3", "phi3", "olmo2", "granite"]);

export interface ArchitectureSupport {
  readonly steering: boolean;
  readonly capture: boolean;
  /** Steering and capture were tested on this architecture ({@link TESTED_ARCHITECTURES}); false means read from code only. */
  readonly tested: boolean;
}

const warnedUntested = new Set<string>();

/**
 * What llama.cpp can do on `architecture`. Every llama.cpp engine asks this when it opens a model,
 * so this is also where a steerable but untested architecture is reported: once per process, a
 * Node warning (code `EMOSTEER_UNTESTED_ARCHITECTURE`). Steering and capture should work there (its
 * graph adds the control vector and names `l_out`), but no test has shown it.
 */
export function architectureSupport(architecture: string): ArchitectureSupport {
  const known = STEERABLE_ARCHITECTURES.has(architecture);
  const tested = known && TESTED_ARCHITECTURES.has(architecture);
  if (known && !tested && !warnedUntested.has(architecture)) {
    warnedUntested.add(architecture);
    process.emitWarning(
      `llama.cpp steering and capture on architecture "${architecture}" are untested: it is listed as steerable from reading llama.cpp's graph code, but only ${[...TESTED_ARCHITECTURES].join(", ")} are proven (on synthetic weights). Check that a steered capture differs from an unsteered one by the vector before relying on it.`,
      { code: "EMOSTEER_UNTESTED_ARCHITECTURE" },
    );
  }
  return { steering: known, capture: known, tested };
}
