/**
 * The setting of the steering-effect test (a llama.cpp-extracted joy EV applied on llama.cpp and
 * transformers.js), shared with scripts/projection-noise.ts, which measures that test's noise
 * floor on exactly these prompts, tokens and α.
 */
export const STEERING_EFFECT = {
  prompts: [
    "Describe your morning in two sentences.",
    "What do you think about rainy weekends?",
    "Tell me about your neighbour.",
    "How was the train ride?",
  ],
  /** Net-shift α (the default injection): 1 adds the measured shift, 2 doubles it. */
  alphas: [0, 1, 2],
  tokens: 32,
  /** Layer whose residual is projected onto the EV: the middle of SmolLM2's 30 blocks. */
  probeLayer: 15,
  /** Contrast queries the joy EV is extracted from (the paper uses 100; 8 keeps the test short). */
  extractionQueries: 8,
} as const;
