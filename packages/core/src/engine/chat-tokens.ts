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
 * `render(messages)` (a template that trims a content, as Gemma's does for user turns, is
 * matched with that content trimmed), so the tokens always spell the prompt `formatChat` shows.
 * A template that rewrites content in another way (escaping, say) is refused with
 * {@link UnsupportedFormatError}.
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

  const texts = matchContents(pieces, messages, expected);
  if (texts) {
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

/** How a template may have put a message's content in: as it is, or trimmed (Gemma's `| trim`), on one or both sides. */
const CONTENT_FORMS: readonly ((content: string) => string)[] = [(c) => c, (c) => c.trim(), (c) => c.trimEnd(), (c) => c.trimStart()];

/**
 * The text of every piece such that they join to `expected`: template pieces as rendered, each
 * content occurrence in one of {@link CONTENT_FORMS} (chosen per occurrence, with backtracking);
 * null when no choice reproduces the rendered chat.
 */
function matchContents(pieces: readonly (string | number)[], messages: readonly ChatMessage[], expected: string): string[] | null {
  const failed = new Set<string>();
  const texts: string[] = [];
  const match = (index: number, at: number): boolean => {
    if (index === pieces.length) return at === expected.length;
    const key = `${index}:${at}`;
    if (failed.has(key)) return false;
    const piece = pieces[index]!;
    const candidates = typeof piece === "string" ? [piece] : [...new Set(CONTENT_FORMS.map((form) => form(messages[piece]!.content)))];
    for (const text of candidates) {
      if (!expected.startsWith(text, at)) continue;
      texts[index] = text;
      if (match(index + 1, at + text.length)) return true;
    }
    failed.add(key);
    return false;
  };
  return match(0, 0) ? texts.slice(0, pieces.length) : null;
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
