import type { FamilyParity, SYNTHETIC_TOLERANCE } from "./family-parity.js";

// The shape of benchmarks/families.json: scripts/families-report.ts writes it (and renders its
// ENGINES.md section from it), test/family-evidence.test.ts checks the registry's claims against it.

/** One registry family: proven on each engine on synthetic weights, and whether real weights were measured. */
export interface FamilyRow {
  readonly family: string;
  readonly architecture: string;
  readonly llama_cpp: boolean;
  readonly onnx: boolean;
  readonly transformers_js: boolean;
  readonly real_weights: boolean;
}

/** How far llama.cpp's logits move on the same weights without a family's RoPE factors. */
export interface RopeAblation {
  readonly family: string;
  readonly removed: string;
  readonly maxAbsDiff: number;
  readonly top1: number;
}

export interface FamiliesReport {
  readonly generatedBy: string;
  readonly measuredAt: string;
  readonly cpu: string;
  readonly positions: number;
  readonly tolerance: typeof SYNTHETIC_TOLERANCE;
  readonly families: FamilyRow[];
  readonly parity: FamilyParity[];
  readonly ropeAblations: RopeAblation[];
}
