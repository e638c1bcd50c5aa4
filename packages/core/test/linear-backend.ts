// A tiny deterministic "model" implementing SteeringBackend with real arithmetic, so the facade's
// span logic, pooling and steering plumbing can be checked exactly against hand computation.
import {
  type CaptureRequest,
  type ChatMessage,
  type GenerateOptions,
  type Generation,
  type ModelInfo,
  type ResidualCapture,
  type SteeringBackend,
  CORE_EMOTIONS,
  DisposedError,
  resolveSteering,
} from "../src/index.js";
import { tokenizeChatMessages } from "../src/engine/index.js";

export const linearModel: ModelInfo = {
  architecture: "linear",
  name: "linear-toy",
  layerCount: 4,
  hiddenSize: 6,
  vocabSize: 2000,
  contextLength: 4096,
  fingerprint: "1111222233334444",
};

/** Token embedding: small integers, so sums are exact. */
export function embed(token: number): number[] {
  return Array.from({ length: linearModel.hiddenSize }, (_, i) => ((token * (i + 3)) % 17) - 8);
}

/** Residual at the output of block `layer`, position `p`: layer·E(t_p) + ½·layer·E(t_{p−1}). */
export function residual(tokens: readonly number[], layer: number, p: number): number[] {
  const current = embed(tokens[p]!);
  const previous = p > 0 ? embed(tokens[p - 1]!) : current.map(() => 0);
  return current.map((x, i) => layer * x + 0.5 * layer * previous[i]!);
}

/** The chat template: plain text markup, one token per character. */
export function formatChat(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  return messages.map((m) => `<${m.role}>\n${m.content}\n`).join("") + (addGenerationPrompt ? "<assistant>\n" : "");
}

/** One token per character, except that "\n" followed by "#" merges into one token (1000). */
export function tokenize(text: string): number[] {
  const tokens: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\n" && text[i + 1] === "#") {
      tokens.push(1000);
      i++;
    } else tokens.push(text.charCodeAt(i));
  }
  return tokens;
}

export class LinearBackend implements SteeringBackend {
  readonly name = "linear";
  readonly model = linearModel;
  readonly contextSize = linearModel.contextLength;
  readonly capabilities;
  disposed = false;
  readonly captures: CaptureRequest[] = [];
  readonly generations: { messages: readonly ChatMessage[]; options: GenerateOptions }[] = [];

  constructor(capabilities: { steering?: boolean; capture?: boolean } = {}) {
    this.capabilities = {
      steering: capabilities.steering ?? true,
      capture: capabilities.capture ?? true,
      logProbs: false,
      seededSampling: false,
      parallelSequences: 1,
      steerableLayers: { from: 1, to: linearModel.layerCount - 1 },
    };
  }

  formatChat(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    this.check();
    return formatChat(messages, options.addGenerationPrompt ?? false);
  }

  async tokenize(text: string): Promise<number[]> {
    this.check();
    return tokenize(text);
  }

  async tokenizeChat(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): Promise<number[]> {
    this.check();
    return tokenizeChatMessages({ render: formatChat, tokenize }, messages, options.addGenerationPrompt ?? false);
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    return tokens.map((t) => (t === 1000 ? "\n#" : String.fromCharCode(t))).join("");
  }

  async captureResiduals(request: CaptureRequest): Promise<ResidualCapture> {
    this.check();
    this.captures.push(request);
    const layers = request.layers ?? Array.from({ length: linearModel.layerCount }, (_, l) => l);
    const steering = request.steering ? resolveSteering(request.steering, linearModel) : null;
    const positions = request.spanEnd - request.spanStart;
    const h = linearModel.hiddenSize;
    const data = layers.map((layer) => {
      const out = new Float32Array(positions * h);
      for (let p = request.spanStart; p < request.spanEnd; p++) {
        residual(request.tokens, layer, p).forEach((x, i) => {
          out[(p - request.spanStart) * h + i] = x + (steering?.data[layer * h + i] ?? 0);
        });
      }
      return out;
    });
    return { layers, positions, hiddenSize: h, data };
  }

  /** "Writes" a response naming the emotion its system prompt asks for, truncated to maxTokens characters. */
  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    this.check();
    const messages = typeof prompt === "string" ? [{ role: "user" as const, content: prompt }] : prompt;
    this.generations.push({ messages, options });
    const system = messages.find((m) => m.role === "system")?.content ?? "";
    const mood = CORE_EMOTIONS.find((e) => system.includes(e)) ?? /feels deep (\w+)/.exec(system)?.[1] ?? "calm";
    const user = messages.at(-1)!.content;
    const text = `I feel ${mood} about ${user.slice(0, 10)}.`.slice(0, options.maxTokens ?? 128);
    return {
      text,
      tokens: tokenize(text),
      finishReason: "stop",
      timings: { promptTokens: 0, generatedTokens: text.length, promptMs: 0, decodeMs: 0, firstTokenMs: 0 },
    };
  }

  async scoreContinuation(): Promise<never> {
    throw new Error("not used by these tests");
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  private check(): void {
    if (this.disposed) throw new DisposedError("LinearBackend");
  }
}
