// @emosteer/core/engine: the pieces every engine shares to implement SteeringBackend the same way
// (argument checks, chat tokenization, streaming text with stop strings, scoring). Browser-safe.
export * from "./generate-options.js";
export * from "./generation-text.js";
export * from "./log-softmax.js";
export * from "./capture-request.js";
export * from "./event-loop.js";
export * from "./steering-phase.js";
export * from "./chat-tokens.js";
export * from "./plain-text-tokenizer-json.js";
export * from "./session-queue.js";
export * from "./session-row.js";
export * from "./batched-session.js";
export * from "./padded-kv-cache.js";
export * from "./backend-batched-session.js";
