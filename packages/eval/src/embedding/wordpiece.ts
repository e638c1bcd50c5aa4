/**
 * BERT uncased tokenization as in the model's tokenizer.json (BertNormalizer: clean text, CJK
 * spacing, lower-case, strip accents; BertPreTokenizer: split on whitespace and punctuation;
 * WordPiece with `##` continuations, max 100 chars per word) plus [CLS] … [SEP].
 */
export class WordPieceTokenizer {
  readonly #vocab: Map<string, number>;
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;

  constructor(vocabLines: readonly string[]) {
    this.#vocab = new Map(vocabLines.map((token, id) => [token, id]));
    const id = (t: string) => {
      const v = this.#vocab.get(t);
      if (v === undefined) throw new Error(`vocab.txt lacks ${t}`);
      return v;
    };
    this.clsId = id("[CLS]");
    this.sepId = id("[SEP]");
    this.unkId = id("[UNK]");
  }

  /** Token ids with [CLS] and [SEP], truncated to `maxLength` in total. */
  encode(text: string, maxLength = 256): number[] {
    const ids = [this.clsId];
    for (const word of preTokenize(normalize(text))) {
      for (const id of this.#wordPiece(word)) {
        if (ids.length >= maxLength - 1) return [...ids, this.sepId];
        ids.push(id);
      }
    }
    ids.push(this.sepId);
    return ids;
  }

  #wordPiece(word: string): number[] {
    const chars = [...word];
    if (chars.length > 100) return [this.unkId];
    const out: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? "##" : "") + chars.slice(start, end).join("");
        found = this.#vocab.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unkId];
      out.push(found);
      start = end;
    }
    return out;
  }
}

function isControl(c: string): boolean {
  if (c === "\t" || c === "\n" || c === "\r") return false;
  return /\p{Cc}|\p{Cf}|\p{Co}|\p{Cs}/u.test(c);
}

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function normalize(text: string): string {
  let out = "";
  for (const c of text) {
    const cp = c.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isControl(c)) continue;
    if (/\s/u.test(c)) out += " ";
    else if (isCjk(cp)) out += ` ${c} `;
    else out += c;
  }
  return out
    .toLowerCase()
    .normalize("NFD")
    .replace(/\p{Mn}/gu, "");
}

function isPunctuation(c: string): boolean {
  const cp = c.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(c);
}

function preTokenize(text: string): string[] {
  const words: string[] = [];
  for (const chunk of text.split(/\s+/u)) {
    let current = "";
    for (const c of chunk) {
      if (isPunctuation(c)) {
        if (current) words.push(current);
        words.push(c);
        current = "";
      } else current += c;
    }
    if (current) words.push(current);
  }
  return words;
}
