import { InvalidSteeringError } from "../errors.js";
import type { SteeringPhase, SteeringSpec } from "../steering-spec.js";

const PHASES: readonly SteeringPhase[] = ["prompt", "generation", "both"];

/** Whether a generation steers its prompt pass and its generated tokens, from `spec.apply` (checked). */
export function steeringPhases(spec: SteeringSpec | null | undefined): { readonly prompt: boolean; readonly generation: boolean } {
  const apply = spec?.apply ?? "both";
  if (!PHASES.includes(apply)) throw new InvalidSteeringError("apply", `${JSON.stringify(apply)} is not one of ${PHASES.join(", ")}.`);
  return { prompt: apply !== "generation", generation: apply !== "prompt" };
}
