import type { CellRecord, Condition } from "./store.js";

/** How a generation is conditioned, parsed. */
export type ConditionSpec =
  | { readonly method: "none" }
  | { readonly method: "ev"; readonly emotion: string; readonly alpha: number }
  | { readonly method: "prompt"; readonly emotion: string }
  | { readonly method: "mix"; readonly weights: Readonly<Record<string, number>> };

/** The stored key of a condition: `none`, `ev:joy@1`, `prompt:joy`, `mix:fear@1+joy@1`. α = 0 is `none`. */
export function conditionKey(spec: ConditionSpec): Condition {
  switch (spec.method) {
    case "none":
      return "none";
    case "ev":
      return spec.alpha === 0 ? "none" : `ev:${spec.emotion}@${spec.alpha}`;
    case "prompt":
      return `prompt:${spec.emotion}`;
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
    case "mix":
      return { ...spec.weights };
  }
}

/** Whether the condition steers (needs vectors). */
export function isSteered(spec: ConditionSpec): boolean {
  return spec.method === "mix" || (spec.method === "ev" && spec.alpha !== 0);
}

export function methodOf(spec: ConditionSpec): CellRecord["method"] {
  return spec.method === "ev" && spec.alpha === 0 ? "none" : spec.method;
}
