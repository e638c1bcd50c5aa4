import { readFileSync } from "node:fs";
import { CORE_EMOTIONS, type CoreEmotion, InvalidFileError } from "@emosteer/core";
import { decodeText } from "./data.js";
import { dataFile, resolveDataDir } from "./paths.js";

/** Lexicon hits of one text: the EAS ingredients. */
export interface LexiconScore {
  /** Emotion-word hits per 100 words, per core emotion (0 for a text without words). */
  readonly perHundredWords: Readonly<Record<CoreEmotion, number>>;
  /** Raw hit counts per core emotion. */
  readonly hits: Readonly<Record<CoreEmotion, number>>;
  /** Word tokens counted (the denominator). */
  readonly words: number;
  /** Lexicon words skipped because a negator preceded them in the window. */
  readonly negated: number;
}

export interface LexiconOptions {
  /** Data folder holding `nrc-emolex/`. Defaults to `EMOSTEER_DATA_DIR` or `<repo>/../shared/data`. */
  readonly dataDir?: string;
  /** How many preceding words (within the clause) a negator reaches. Defaults to 3. */
  readonly negationWindow?: number;
}

const NEGATORS: ReadonlySet<string> = new Set([
  "not",
  "no",
  "never",
  "nor",
  "neither",
  "without",
  "hardly",
  "barely",
  "scarcely",
  "nobody",
  "nothing",
  "none",
  "cannot",
  "cant",
  "dont",
  "isnt",
  "wasnt",
  "arent",
  "werent",
  "didnt",
  "doesnt",
  "wont",
  "wouldnt",
  "shouldnt",
  "couldnt",
  "aint",
]);

/** Words (letters with inner apostrophes) and clause-breaking punctuation, lower-cased. */
const TOKEN = /[\p{L}]+(?:['’][\p{L}]+)*|[.,;:!?()]/gu;
const CLAUSE_BREAK = /^[.,;:!?()]$/;

/** `n't` contractions and the negators above. */
function isNegator(word: string): boolean {
  return NEGATORS.has(word) || word.endsWith("n't") || word.endsWith("n’t");
}

/**
 * Candidate lexicon forms of an inflected word, in the order tried: the word itself, then
 * `-ies`→`-y`, `-es`, `-s`, `-ied`→`-y`, `-ed` (also `+e` and undoubled consonant: "loved"→"love",
 * "stopped"→"stop"), `-ing` (same variants: "loving"→"love", "hoping"→"hope"), `-ily`→`-y` and `-ly`.
 */
export function inflectionCandidates(word: string): string[] {
  const out = [word];
  const strip = (suffix: string, ...replacements: string[]) => {
    if (word.length >= suffix.length + 2 && word.endsWith(suffix)) {
      const stem = word.slice(0, -suffix.length);
      for (const r of replacements) out.push(stem + r);
      const last = stem.at(-1)!;
      if ((suffix === "ed" || suffix === "ing") && stem.length > 2 && last === stem.at(-2) && !"aeiou".includes(last))
        out.push(stem.slice(0, -1));
    }
  };
  strip("ies", "y");
  strip("es", "");
  strip("s", "");
  strip("ied", "y");
  strip("ed", "", "e");
  strip("ing", "", "e");
  strip("ily", "y");
  strip("ly", "");
  return out;
}

/** NRC EmoLex scorer for the five core emotions (see docs/metrics.md, "EAS"). */
export class LexiconScorer {
  readonly negationWindow: number;

  /** @internal use {@link loadLexicon}. */
  constructor(
    private readonly emotionsOf: ReadonlyMap<string, readonly CoreEmotion[]>,
    negationWindow = 3,
  ) {
    this.negationWindow = negationWindow;
  }

  /** Number of lexicon words associated with at least one core emotion. */
  get size(): number {
    return this.emotionsOf.size;
  }

  /** Core emotions of a word after inflection handling ([] when not in the lexicon). */
  emotionsOfWord(word: string): readonly CoreEmotion[] {
    for (const form of inflectionCandidates(word.toLowerCase().replace(/’/g, "'"))) {
      const e = this.emotionsOf.get(form);
      if (e) return e;
    }
    return [];
  }

  /**
   * Score a text. A lexicon word counts for each of its emotions unless a negator ("not", "never",
   * any "n't" word, …) stands among the `negationWindow` words before it in the same clause
   * (punctuation `. , ; : ! ? ( )` ends a clause). Hits are divided by all words × 100.
   */
  score(text: string): LexiconScore {
    if (typeof text !== "string") throw new TypeError(`Lexicon input must be a string, got ${typeof text}`);
    const tokens = text.normalize("NFKC").toLowerCase().replace(/’/g, "'").match(TOKEN) ?? [];
    const hits = Object.fromEntries(CORE_EMOTIONS.map((e) => [e, 0])) as Record<CoreEmotion, number>;
    let words = 0;
    let negated = 0;
    let sinceNegator = Infinity;
    for (const token of tokens) {
      if (CLAUSE_BREAK.test(token)) {
        sinceNegator = Infinity;
        continue;
      }
      words++;
      sinceNegator++;
      if (isNegator(token)) {
        sinceNegator = 0;
        continue;
      }
      const emotions = this.emotionsOfWord(token);
      if (emotions.length === 0) continue;
      if (sinceNegator <= this.negationWindow) {
        negated++;
        continue;
      }
      for (const e of emotions) hits[e]++;
    }
    const perHundredWords = Object.fromEntries(CORE_EMOTIONS.map((e) => [e, words === 0 ? 0 : (100 * hits[e]) / words])) as Record<
      CoreEmotion,
      number
    >;
    return { perHundredWords, hits, words, negated };
  }
}

/** Parse the NRC EmoLex word-level file (`word<TAB>category<TAB>0|1`). */
export function parseEmoLex(content: string, path = "<emolex>"): Map<string, CoreEmotion[]> {
  const map = new Map<string, CoreEmotion[]>();
  const core: ReadonlySet<string> = new Set(CORE_EMOTIONS);
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const [word, category, flag] = line.split("\t");
    if (word === undefined || category === undefined || (flag !== "0" && flag !== "1")) {
      throw new InvalidFileError(path, `line ${i + 1} is not word<TAB>category<TAB>0|1`);
    }
    if (flag === "1" && core.has(category)) {
      const list = map.get(word) ?? [];
      list.push(category as CoreEmotion);
      map.set(word, list);
    }
  }
  if (map.size === 0)
    throw new InvalidFileError(path, "no word is associated with a core emotion: is this the NRC EmoLex word-level file?");
  return map;
}

/** Load NRC EmoLex v0.92 from the data folder. */
export function loadLexicon(options: LexiconOptions = {}): LexiconScorer {
  const path = dataFile(resolveDataDir(options.dataDir), "nrc-emolex/NRC-Emotion-Lexicon-Wordlevel-v0.92.txt");
  return new LexiconScorer(parseEmoLex(decodeText(readFileSync(path)), path), options.negationWindow);
}
