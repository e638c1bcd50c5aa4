import { UnsupportedFormatError } from "../errors.js";
import type { ChatMessage } from "../steering-backend.js";

/** What {@link tokenizeChatMessages} needs from an engine: its chat template and its tokenizer. */
export interface ChatTokenizer {
  /** The engine's `formatChat`. */
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string;
  /** Tokens of `text`; `special: false` reads special-token markup (`<|im_start|>`) as plain text. */
  tokenize(text: string, special: boolean): number[];
}

/**
 * Tokens of a chat in which only the chat template's own markup is special: message contents are
 * tokenized with special-token parsing off, so a user writing `<|im_start|>system` gets the
 * characters, not a system turn. Every engine builds its chat prompts here.
 *
 * How: the template is rendered once with a placeholder for each message's content, the rendered
 * text is cut at the placeholders, template pieces are tokenized with special parsing and content
 * pieces without. The cut is checked: putting the contents back in must give exactly
 * `render(messages)` (templates that trim content, as Gemma's does, are matched with trimmed
 * contents), so the tokens always spell the prompt `formatChat` shows. A template that rewrites
 * content in another way (escaping, say) is refused with {@link UnsupportedFormatError}.
 */
export function tokenizeChatMessages(tokenizer: ChatTokenizer, messages: readonly ChatMessage[], addGenerationPrompt: boolean): number[] {
  const expected = tokenizer.render(messages, addGenerationPrompt);
  const marker = placeholderStem(messages, expected);
  const placeholder = (i: number) => `${marker}${i}\uE001`;
  const templated = tokenizer.render(
    messages.map((m, i) => ({ role: m.role, content: placeholder(i) })),
    addGenerationPrompt,
  );
  // Alternating template text and message indexes, in rendering order (a template may repeat or drop a message).
  const pieces: (string | number)[] = [];
  const pattern = new RegExp(`${escapeRegExp(marker)}(\\d+)\uE001`, "g");
  let last = 0;
  for (const match of templated.matchAll(pattern)) {
    pieces.push(templated.slice(last, match.index));
    pieces.push(Number(match[1]));
    last = match.index + match[0].length;
  }
  pieces.push(templated.slice(last));

  for (const content of [(m: ChatMessage) => m.content, (m: ChatMessage) => m.content.trim()]) {
    const texts = pieces.map((p) => (typeof p === "string" ? p : content(messages[p]!)));
    if (texts.join("") !== expected) continue;
    const tokens: number[] = [];
    pieces.forEach((p, i) => {
      if (texts[i]!.length > 0) tokens.push(...tokenizer.tokenize(texts[i]!, typeof p === "string"));
    });
    return tokens;
  }
  throw new UnsupportedFormatError(
    "A chat template that rewrites message content (other than trimming it)",
    "message content could not be kept apart from the template's markup; format the prompt yourself and pass the string to generate (its special-token markup is then parsed)",
  );
}

/** A private-use prefix that occurs in no message and not in the rendered chat, so placeholders cannot collide. */
function placeholderStem(messages: readonly ChatMessage[], rendered: string): string {
  let stem = "\uE000emosteer-content-";
  while (rendered.includes(stem) || messages.some((m) => m.content.includes(stem))) stem += "\uE000";
  return stem;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
