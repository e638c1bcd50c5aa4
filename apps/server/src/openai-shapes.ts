import type { Generation } from "@emosteer/core";
import type { AppliedSteering } from "./request-steering.js";

// The response objects of OpenAI's chat and legacy completions APIs, plus emosteer's `steering`
// (what was applied; null when unsteered). Only the fields this server fills are typed.

export type FinishReason = "stop" | "length";

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export function usageOf(generation: Generation): Usage {
  const { promptTokens, generatedTokens } = generation.timings;
  return { prompt_tokens: promptTokens, completion_tokens: generatedTokens, total_tokens: promptTokens + generatedTokens };
}

/** OpenAI's finish reasons; an aborted generation is only answered on a timeout, where "length" (cut short) is the truth. */
export function finishReasonOf(generation: Generation): FinishReason {
  return generation.finishReason === "stop" ? "stop" : "length";
}

export interface ResponseHead {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly steering: AppliedSteering | null;
}

export function chatCompletion(head: ResponseHead, generation: Generation) {
  return {
    id: head.id,
    object: "chat.completion",
    created: head.created,
    model: head.model,
    choices: [
      { index: 0, message: { role: "assistant", content: generation.text }, logprobs: null, finish_reason: finishReasonOf(generation) },
    ],
    usage: usageOf(generation),
    steering: head.steering,
  };
}

export function textCompletion(head: ResponseHead, generation: Generation) {
  return {
    id: head.id,
    object: "text_completion",
    created: head.created,
    model: head.model,
    choices: [{ index: 0, text: generation.text, logprobs: null, finish_reason: finishReasonOf(generation) }],
    usage: usageOf(generation),
    steering: head.steering,
  };
}

/** One streamed chunk: `delta` text (chat) or `text` (completions), a finish reason on the last. */
export function streamChunk(
  kind: "chat" | "text",
  head: ResponseHead,
  piece: { text?: string; role?: boolean; finish?: FinishReason; steering?: boolean },
) {
  const choice =
    kind === "chat"
      ? {
          index: 0,
          delta: { ...(piece.role ? { role: "assistant" } : {}), ...(piece.text !== undefined ? { content: piece.text } : {}) },
          logprobs: null,
          finish_reason: piece.finish ?? null,
        }
      : { index: 0, text: piece.text ?? "", logprobs: null, finish_reason: piece.finish ?? null };
  return {
    id: head.id,
    object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created: head.created,
    model: head.model,
    choices: [choice],
    ...(piece.steering ? { steering: head.steering } : {}),
  };
}

/** The chunk `stream_options.include_usage` asks for: no choices, the usage. */
export function usageChunk(kind: "chat" | "text", head: ResponseHead, generation: Generation) {
  return {
    id: head.id,
    object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created: head.created,
    model: head.model,
    choices: [],
    usage: usageOf(generation),
  };
}
