import { TokenSampler, type SamplingOptions } from "@emosteer/core";
import { LogitsProcessor, type Tensor } from "@huggingface/transformers";

/**
 * Picks the next token with core's {@link TokenSampler} and leaves only that token finite, so
 * transformers.js's greedy sampler selects it. transformers.js's own multinomial sampler draws
 * from a process-wide generator and applies temperature before top-p; core's sampler keeps a seed
 * reproducible under concurrency and gives the same tokens as the ONNX backend for the same
 * logits and options.
 */
export class SeededTokenSampler extends LogitsProcessor {
  private readonly sampler: TokenSampler;

  constructor(sampling: SamplingOptions) {
    super();
    this.sampler = new TokenSampler(sampling);
  }

  override _call(_inputIds: bigint[][], logits: Tensor): Tensor {
    const vocab = logits.dims.at(-1)!;
    const data = logits.data as Float32Array;
    for (let row = 0; row * vocab < data.length; row++) {
      const scores = data.subarray(row * vocab, (row + 1) * vocab);
      const chosen = this.sampler.sample(scores);
      scores.fill(-Infinity);
      scores[chosen] = 0;
    }
    return logits;
  }
}
