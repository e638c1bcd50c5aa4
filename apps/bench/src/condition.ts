import type { CellRecord, Condition } from "./store.js";

/** How a generation is conditioned, parsed. */
export type ConditionSpec =
  | { readonly method: "none" }
  | { readonly method: "ev"; readonly emotion: string; readonly alpha: number }
  | { readonly method: "prompt"; readonly emotion: string }
  /** The emotion's conditioning system prompt plus α·EV of the same emotion (α < 0: suppression under the prompt). */
  | { readonly method: "prompt-ev"; readonly emotion: string; readonly alpha: number }
  | { readonly method: "mix"; readonly weights: Readonly<Record<string, number>> };

/** The stored key of a condition: `none`, `ev:joy@1`, `prompt:joy`, `prompt:joy+ev:joy@-1`, `mix:fear@1+joy@1`. α = 0 is `none`. */
export function conditionKey(spec: ConditionSpec): Condition {
  switch (spec.method) {
    case "none":
      return "none";
    case "ev":
      return spec.alpha === 0 ? "none" : `ev:${spec.emotion}@${spec.alpha}`;
    case "prompt":
      return `prompt:${spec.emotion}`;
    case "prompt-ev":
      return `prompt:${spec.emotion}+ev:${spec.emotion}@${spec.alpha}`;
    case "mix":
      return `mix:${Object.keys(spec.weights)
        .sort()
        .map((e) => `${e}@${spec.weights[e]}`)
        .join("+")}`;
  }
}

/** Emotion weights of a condition (prompt conditions count as weight 1 on their emotion). */
export function conditionWeights(spec: ConditionSpec): Record<string, number> {
  switch (spec.method) {
    case "none":
      return {};
    case "ev":
      return spec.alpha === 0 ? {} : { [spec.emotion]: spec.alpha };
    case "prompt":
      return { [spec.emotion]: 1 };
    case "prompt-ev":
      return { [spec.emotion]: spec.alpha };
    case "mix":
      return { ...spec.weights };
  }
}

/** Whether the condition steers (needs vectors). */
export function isSteered(spec: ConditionSpec): boolean {
  return spec.method === "mix" || spec.method === "prompt-ev" || (spec.method === "ev" && spec.alpha !== 0);
}

/** Whether the generation carries the emotion's conditioning system prompt. */
export function isPrompted(spec: ConditionSpec): spec is Extract<ConditionSpec, { method: "prompt" | "prompt-ev" }> {
  return spec.method === "prompt" || spec.method === "prompt-ev";
}

export function methodOf(spec: ConditionSpec): CellRecord["method"] {
  return spec.method === "ev" && spec.alpha === 0 ? "none" : spec.method;
}
