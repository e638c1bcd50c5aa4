import { assertEmotionName, isCoreEmotion, type Emotion } from "./emotion.js";
import { InvalidEmotionDefinitionError } from "./errors.js";

/** One hand-written contrast pair for a user-defined emotion. */
export interface UserEmotionExample {
  readonly query: string;
  readonly neutral: string;
  readonly emotional: string;
}

/**
 * A user-defined emotion, from a JSON file such as
 * `{ "name": "awe", "conditioningPrompt": "You are a helpful assistant who feels deep awe…",
 *    "examples": [{ "query": "…", "neutral": "…", "emotional": "…" }] }`.
 * With examples, the vector is extracted from them (teacher-forced); without, the model writes
 * its own neutral and emotional responses, conditioned by `conditioningPrompt`.
 */
export interface UserEmotion {
  readonly name: Emotion;
  /** System prompt that makes a model answer with this emotion. */
  readonly conditioningPrompt: string;
  readonly examples?: readonly UserEmotionExample[];
}

const FIELDS = ["name", "conditioningPrompt", "examples"];
const EXAMPLE_FIELDS = ["query", "neutral", "emotional"];

/**
 * Parses and validates a user-defined emotion from JSON text or an already parsed value. Throws
 * {@link InvalidEmotionDefinitionError} naming the offending field and how to fix it; `source`
 * (e.g. the file path) prefixes the message. Defaults to `"emotion definition"`.
 */
export function parseUserEmotion(input: string | unknown, source = "emotion definition"): UserEmotion {
  const fail = (field: string, reason: string) => new InvalidEmotionDefinitionError(source, field, reason);
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new InvalidEmotionDefinitionError(
        source,
        "(file)",
        `is not valid JSON (${(error as Error).message}); write an object like {"name": "awe", "conditioningPrompt": "..."}.`,
      );
    }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw fail("(root)", `must be a JSON object like {"name": "awe", "conditioningPrompt": "..."}, got ${describe(value)}.`);
  }
  const root = value as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (!FIELDS.includes(key)) throw fail(key, `unknown field; allowed fields are ${FIELDS.join(", ")} (check the spelling).`);
  }

  if (typeof root.name !== "string") throw fail("name", `must be a string such as "awe", got ${describe(root.name)}.`);
  const name = root.name;
  try {
    assertEmotionName(name);
  } catch (error) {
    throw fail("name", (error as Error).message);
  }
  if (isCoreEmotion(name)) throw fail("name", `"${name}" is a core emotion and already has a vector; give your emotion another name.`);

  const conditioningPrompt = nonEmptyString(
    root.conditioningPrompt,
    "conditioningPrompt",
    `a system prompt such as "You are a helpful assistant who feels deep ${name}."`,
    fail,
  );

  if (root.examples === undefined) return { name, conditioningPrompt };
  if (!Array.isArray(root.examples) || root.examples.length === 0) {
    throw fail(
      "examples",
      `must be a non-empty array of {"query", "neutral", "emotional"} objects (or leave it out to let the model write its own), got ${describe(root.examples)}.`,
    );
  }
  const examples = root.examples.map((entry: unknown, i): UserEmotionExample => {
    const field = `examples[${i}]`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry))
      throw fail(field, `must be an object {"query", "neutral", "emotional"}, got ${describe(entry)}.`);
    const example = entry as Record<string, unknown>;
    for (const key of Object.keys(example)) {
      if (!EXAMPLE_FIELDS.includes(key)) throw fail(`${field}.${key}`, `unknown field; allowed fields are ${EXAMPLE_FIELDS.join(", ")}.`);
    }
    return {
      query: nonEmptyString(example.query, `${field}.query`, "the user question", fail),
      neutral: nonEmptyString(example.neutral, `${field}.neutral`, "a neutral answer to the query", fail),
      emotional: nonEmptyString(example.emotional, `${field}.emotional`, `an answer to the query expressing ${name}`, fail),
    };
  });
  return { name, conditioningPrompt, examples };
}

function nonEmptyString(value: unknown, field: string, expected: string, fail: (field: string, reason: string) => Error): string {
  if (typeof value !== "string" || value.trim() === "")
    throw fail(field, `must be a non-empty string (${expected}), got ${describe(value)}.`);
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return value.trim() === "" ? "an empty string" : `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `a ${typeof value}`;
}
