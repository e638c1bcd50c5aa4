/**
 * GGUF architectures whose llama.cpp graph (src/models/<arch>.cpp of the bundled llama.cpp) both
 * adds the control vector at the end of every block (`cvec.apply_to` / `build_cvec`) and names the
 * block output `l_out-<il>`, so steering and capture work. Derived by reading the graph builders
 * of the llama.cpp version node-llama-cpp 3.21.1 bundles; architectures missing from this list
 * (e.g. minicpm, granitemoe, phimoe, bert-style encoders, mamba2) do neither, or were not checked.
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

export interface ArchitectureSupport {
  readonly steering: boolean;
  readonly capture: boolean;
}

export function architectureSupport(architecture: string): ArchitectureSupport {
  const known = STEERABLE_ARCHITECTURES.has(architecture);
  return { steering: known, capture: known };
}
