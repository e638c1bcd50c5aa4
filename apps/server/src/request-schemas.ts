import { readFileSync } from "node:fs";

/** The steering schema file (schema/steering.schema.json), the one document of the body's steering fields. */
export const STEERING_SCHEMA: { properties: Record<string, unknown>; $defs: Record<string, unknown> } & Record<string, unknown> =
  JSON.parse(readFileSync(new URL("../schema/steering.schema.json", import.meta.url), "utf8"));

const steeringProperties = STEERING_SCHEMA.properties;

/** OpenAI's sampling and output fields that both generation endpoints take. Unknown fields are ignored, as OpenAI-compatible servers do. */
const common = {
  model: { type: "string", maxLength: 256 },
  max_tokens: { type: ["integer", "null"], minimum: 1 },
  temperature: { type: ["number", "null"], minimum: 0, maximum: 2 },
  top_p: { type: ["number", "null"], exclusiveMinimum: 0, maximum: 1 },
  top_k: { type: ["integer", "null"], minimum: 0 },
  seed: { type: ["integer", "null"], minimum: 0, maximum: 4294967295 },
  stop: {
    anyOf: [
      { type: "string", maxLength: 256 },
      { type: "array", maxItems: 4, items: { type: "string", maxLength: 256 } },
      { type: "null" },
    ],
  },
  stream: { type: ["boolean", "null"] },
  stream_options: { type: ["object", "null"], properties: { include_usage: { type: "boolean" } } },
  n: { type: ["integer", "null"], minimum: 1, maximum: 1 },
  ...steeringProperties,
} as const;

const textPart = { type: "object", required: ["type", "text"], properties: { type: { const: "text" }, text: { type: "string" } } };

export const CHAT_REQUEST_SCHEMA = {
  $id: "emosteer-chat-request",
  type: "object",
  required: ["messages"],
  properties: {
    ...common,
    max_completion_tokens: { type: ["integer", "null"], minimum: 1 },
    messages: {
      type: "array",
      minItems: 1,
      maxItems: 256,
      items: {
        type: "object",
        required: ["role", "content"],
        properties: {
          role: { enum: ["system", "developer", "user", "assistant"] },
          content: { anyOf: [{ type: "string" }, { type: "array", maxItems: 64, items: textPart }] },
          name: { type: "string" },
        },
      },
    },
  },
  $defs: STEERING_SCHEMA.$defs,
} as const;

export const COMPLETION_REQUEST_SCHEMA = {
  $id: "emosteer-completion-request",
  type: "object",
  required: ["prompt"],
  properties: {
    ...common,
    prompt: {
      anyOf: [
        { type: "string", minLength: 1 },
        { type: "array", minItems: 1, maxItems: 1, items: { type: "string", minLength: 1 } },
      ],
    },
  },
  $defs: STEERING_SCHEMA.$defs,
} as const;
