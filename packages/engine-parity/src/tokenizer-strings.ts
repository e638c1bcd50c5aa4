/**
 * Strings that stress a tokenizer: unicode scripts, emoji (incl. ZWJ sequences and skin tones),
 * whitespace runs, digits, code, contractions, and chat-templated text. Deterministic (seeded),
 * so two engines are always compared on the same set.
 */
export function tokenizerStressStrings(count = 1200, seed = 1): string[] {
  let state = seed >>> 0;
  const rand = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

  const words = [
    "the",
    "quick",
    "brown",
    "fox",
    "I'm",
    "don't",
    "we'll",
    "they've",
    "it's",
    "HELLO",
    "World",
    "naïve",
    "café",
    "coöperate",
    "résumé",
  ];
  const scripts = [
    "Привет мир",
    "你好，世界",
    "こんにちは世界",
    "안녕하세요",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "Γειά σου Κόσμε",
    "สวัสดีชาวโลก",
    "Xin chào thế giới",
  ];
  const emoji = ["😀", "🎉", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🤖", "🇫🇷", "✨", "🧑🏿‍💻"];
  const whitespace = [" ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\r\n", "\t\t ", "    \n"];
  const code = [
    "function add(a, b) { return a + b; }",
    "for (let i = 0; i < 10; i++) {\n  console.log(i);\n}",
    "def f(x):\n    return x ** 2  # square",
    "SELECT * FROM users WHERE id = 42;",
    '<div class="x">&amp;</div>',
    "x = [1, 2, 3]; y = {'a': 1}",
    'if (a && b || !c) { throw new Error("no"); }',
    '#include <stdio.h>\nint main() { printf("%d\\n", 1); }',
  ];
  const numbers = () => String(Math.floor(rand() * 10 ** (1 + Math.floor(rand() * 12))));
  const templates = [
    (body: string) => `<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n${body}<|im_end|>\n<|im_start|>assistant\n`,
    (body: string) => `<|im_start|>user\n${body}<|im_end|>\n`,
    (body: string) => `<start_of_turn>user\n${body}<end_of_turn>\n<start_of_turn>model\n`,
  ];

  const parts: (() => string)[] = [
    () => pick(words),
    () => pick(scripts),
    () => pick(emoji),
    () => pick(whitespace),
    () => pick(code),
    numbers,
    () => `${numbers()}.${numbers()}`,
    () => `$${numbers()},${numbers()}`,
    () => pick(["!!!", "...", "?!", "—", "–", "«»", "“quoted”", "'single'", "(paren)", "[bracket]", "a/b\\c", "@user", "#tag", "100%"]),
  ];
  const out: string[] = ["", " ", "\n", "a", "  leading", "trailing  ", "12345678901234567890", "👨‍👩‍👧‍👦👨‍👩‍👧‍👦", "\t\n \r\n"];
  while (out.length < count) {
    const n = 1 + Math.floor(rand() * 8);
    let text = "";
    for (let i = 0; i < n; i++) text += pick(parts)() + (rand() < 0.6 ? " " : "");
    out.push(rand() < 0.15 ? pick(templates)(text) : text);
  }
  return out;
}
