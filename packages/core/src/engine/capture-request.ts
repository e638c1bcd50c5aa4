import { ContextOverflowError, InvalidArgumentError } from "../errors.js";
import type { ModelInfo } from "../model-info.js";
import type { CaptureRequest } from "../steering-backend.js";

/**
 * Checks a `captureResiduals` request the same way on every engine and returns its layers
 * (default: all). Throws {@link InvalidArgumentError} for a span outside the tokens or a layer the
 * model lacks, {@link ContextOverflowError} for more tokens than the context holds.
 */
export function resolveCaptureLayers(request: CaptureRequest, model: ModelInfo, contextSize: number): number[] {
  const { tokens, spanStart, spanEnd } = request;
  if (!(Number.isInteger(spanStart) && Number.isInteger(spanEnd) && 0 <= spanStart && spanStart < spanEnd && spanEnd <= tokens.length)) {
    throw new InvalidArgumentError("capture span", `[${spanStart}, ${spanEnd})`, `a non-empty range inside the ${tokens.length} tokens`);
  }
  if (tokens.length > contextSize) throw new ContextOverflowError("Capture", tokens.length, contextSize);
  const layers = request.layers ? [...request.layers] : Array.from({ length: model.layerCount }, (_, i) => i);
  for (const layer of layers) {
    if (!(Number.isInteger(layer) && layer >= 0 && layer < model.layerCount))
      throw new InvalidArgumentError("layer", layer, `one of the model's layers 0..${model.layerCount - 1}`);
  }
  if (new Set(layers).size !== layers.length) throw new InvalidArgumentError("capture layers", `[${layers.join(", ")}]`, "distinct");
  return layers;
}
