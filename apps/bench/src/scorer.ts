import {
  cosineSimilarity,
  createJudge,
  loadLexicon,
  loadSentenceEmbedder,
  type EmotionJudge,
  type JudgeName,
  type LexiconScorer,
  type SentenceEmbedder,
} from "@emosteer/eval";

/** The evaluation stack the bench judges every generation with. */
export class Scorer {
  readonly #judge: EmotionJudge;
  readonly #lexicon: LexiconScorer;
  readonly #embedder: SentenceEmbedder;
  readonly #embeddings = new Map<string, Float32Array>();

  private constructor(judge: EmotionJudge, lexicon: LexiconScorer, embedder: SentenceEmbedder) {
    this.#judge = judge;
    this.#lexicon = lexicon;
    this.#embedder = embedder;
  }

  /** Loads (training or fetching into the cache on first use) the judge, the NRC lexicon and MiniLM. */
  static async load(
    options: { readonly judge?: JudgeName; readonly judgeFile?: string | null; readonly onProgress?: (message: string) => void } = {},
  ): Promise<Scorer> {
    const judge = await createJudge({
      ...(options.judge ? { judge: options.judge } : {}),
      ...(options.judgeFile ? { judgeFile: options.judgeFile } : {}),
      onProgress: (p) => options.onProgress?.(`judge: ${p.message}`),
    });
    const lexicon = loadLexicon();
    options.onProgress?.("loading sentence embedder (all-MiniLM-L6-v2)");
    const embedder = await loadSentenceEmbedder();
    return new Scorer(judge, lexicon, embedder);
  }

  /** The judge's name and id (its weights hash). */
  get judgeIdentity(): { readonly name: string; readonly id: string } {
    return { name: this.#judge.name, id: this.#judge.id };
  }

  /** Probability per judge class. */
  async judge(text: string): Promise<Record<string, number>> {
    return { ...(await this.#judge.classify(text)).probabilities };
  }

  /** NRC lexicon hits per 100 words, per core emotion (EAS ingredients). */
  lexicon(text: string): Record<string, number> {
    return { ...this.#lexicon.score(text).perHundredWords };
  }

  /** Cosine similarity of the two texts' MiniLM embeddings (the reference text's embedding is memoised). */
  similarity(text: string, reference: string): number {
    if (text === reference) return 1;
    return cosineSimilarity(this.#embed(text), this.#embed(reference, true));
  }

  #embed(text: string, remember = false): Float32Array {
    const known = this.#embeddings.get(text);
    if (known) return known;
    const e = this.#embedder.embed(text);
    if (remember) this.#embeddings.set(text, e);
    return e;
  }

  dispose(): void {
    void this.#judge.dispose();
    this.#embedder.dispose();
    this.#embeddings.clear();
  }
}
