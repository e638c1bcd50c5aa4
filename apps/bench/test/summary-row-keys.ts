import type { SummaryRow } from "../src/aggregate.js";

// Every field of a summary.json row, written out once for the tests that check a real or
// synthetic report's rows; `satisfies` makes the compiler refuse a list that misses a field of
// SummaryRow or names one it does not have.
const FIELDS = {
  model: true,
  family: true,
  backend: true,
  emotion: true,
  alpha: true,
  method: true,
  n: true,
  eps: true,
  eps_ci: true,
  hit_rate: true,
  hit_rate_ci: true,
  eas: true,
  eas_ci: true,
  eas_delta_pct: true,
  eas_delta_ci: true,
  fidelity: true,
  perplexity: true,
  distinct2: true,
  decode_tps: true,
  prompt_tps: true,
  overhead_ratio: true,
  first_token_ms: true,
  extraction_method: true,
  corpus: true,
  max_tokens: true,
} as const satisfies Record<keyof SummaryRow, true>;

export const SUMMARY_ROW_KEYS: readonly string[] = Object.keys(FIELDS);
