/**
 * EV files: llama.cpp control-vector GGUF files (what `llama-cli --control-vector`, repeng's
 * `export_gguf` and `llama-cvector-generator` use), with emosteer's metadata in extra `emosteer.*`
 * keys that llama.cpp ignores.
 *
 * Layout llama.cpp reads (common/common.cpp, `common_control_vector_load_one`): every tensor is an
 * F32 1-D `direction.<k>` with k ≥ 1, added to the output of block k; `direction.0` is an error,
 * and so is any other tensor name. So our extra data (residual norms, layer scores) lives in
 * metadata arrays, never in tensors.
 *
 * @example
 * const bytes = encodeVectorFile(joy);
 * const again = await decodeVectorFile(bytes, { expectedModel: modelInfo });
 */
import { bytesByteSource, type ByteSource } from "./gguf/byte-source.js";
import { GgmlType, ggmlTypeName } from "./gguf/ggml-type.js";
import { GgufValueType, ggufValueTypeName, type GgufEntry } from "./gguf/gguf-value.js";
import { openGguf } from "./gguf/reader.js";
import { encodeGguf } from "./gguf/writer.js";
import { EmotionVector, assertFinite, type VectorProvenance } from "./emotion-vector.js";
import { ForeignVectorFileError, HiddenSizeMismatchError, InvalidFileError, LayerCountMismatchError } from "./errors.js";
import { type SteeringProfile, validateProfile } from "./steering-profile.js";
import type { Injection } from "./steering-spec.js";
import type { ModelIdentity, ModelInfo } from "./model-info.js";

/** Version of the `emosteer.*` keys; bump when their meaning changes. */
const FORMAT_VERSION = 1;

const KEY = {
  formatVersion: "emosteer.format_version",
  emotion: "emosteer.emotion",
  architecture: "emosteer.model.architecture",
  name: "emosteer.model.name",
  fingerprint: "emosteer.model.fingerprint",
  layerCount: "emosteer.model.layer_count",
  hiddenSize: "emosteer.model.hidden_size",
  provenance: "emosteer.provenance",
  residualNorms: "emosteer.residual_norms",
  layerScores: "emosteer.layer_scores",
} as const;

/** The calibration profile's keys (all present or none); see {@link SteeringProfile}. */
const PROFILE_KEY = {
  layerFrom: "emosteer.profile.layer_from",
  layerTo: "emosteer.profile.layer_to",
  injection: "emosteer.profile.injection",
  alpha: "emosteer.profile.alpha",
  judge: "emosteer.profile.judge",
  eps: "emosteer.profile.eps",
  fidelity: "emosteer.profile.fidelity",
  perplexityRatio: "emosteer.profile.perplexity_ratio",
  distinct2Ratio: "emosteer.profile.distinct2_ratio",
  searchedSplit: "emosteer.profile.searched_split",
  searchedQueries: "emosteer.profile.searched_queries",
} as const;

const DIRECTION = /^direction\.(\d+)$/;

/** Encodes an EV as a control-vector GGUF file that llama.cpp loads as it is. */
export function encodeVectorFile(vector: EmotionVector): Uint8Array {
  const { model } = vector;
  const str = (value: string): GgufEntry => ({ type: GgufValueType.STRING, value });
  const u32 = (value: number): GgufEntry => ({ type: GgufValueType.UINT32, value });
  const f32s = (value: Float32Array): GgufEntry => ({ type: GgufValueType.ARRAY, elementType: GgufValueType.FLOAT32, value });
  const metadata: [string, GgufEntry][] = [
    ["general.architecture", str("controlvector")],
    ["controlvector.model_hint", str(model.architecture)],
    // As llama-cvector-generator writes it: the number of direction tensors.
    ["controlvector.layer_count", { type: GgufValueType.INT32, value: model.layerCount - 1 }],
    [KEY.formatVersion, u32(FORMAT_VERSION)],
    [KEY.emotion, str(vector.emotion)],
    [KEY.architecture, str(model.architecture)],
    [KEY.name, str(model.name)],
    [KEY.fingerprint, str(model.fingerprint)],
    [KEY.layerCount, u32(model.layerCount)],
    [KEY.hiddenSize, u32(model.hiddenSize)],
    [KEY.provenance, str(JSON.stringify(vector.provenance))],
  ];
  if (vector.residualNorms) metadata.push([KEY.residualNorms, f32s(vector.residualNorms)]);
  if (vector.layerScores) metadata.push([KEY.layerScores, f32s(vector.layerScores)]);
  const p = vector.profile;
  if (p) {
    // FLOAT64, so α and the figures read back exactly as calibrated.
    const f64 = (value: number): GgufEntry => ({ type: GgufValueType.FLOAT64, value });
    metadata.push(
      [PROFILE_KEY.layerFrom, u32(p.layers.from)],
      [PROFILE_KEY.layerTo, u32(p.layers.to)],
      [PROFILE_KEY.injection, str(p.injection)],
      [PROFILE_KEY.alpha, f64(p.alpha)],
      [PROFILE_KEY.judge, str(p.judge)],
      [PROFILE_KEY.eps, f64(p.objective.eps)],
      [PROFILE_KEY.fidelity, f64(p.objective.fidelity)],
      [PROFILE_KEY.perplexityRatio, f64(p.objective.perplexityRatio)],
      [PROFILE_KEY.distinct2Ratio, f64(p.objective.distinct2Ratio)],
      [PROFILE_KEY.searchedSplit, str(p.searchedOn.split)],
      [PROFILE_KEY.searchedQueries, u32(p.searchedOn.queries)],
    );
  }
  const tensors = vector.directions.slice(1).map((d, i) => ({
    name: `direction.${i + 1}`,
    dims: [d.length],
    type: GgmlType.F32,
    data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
  }));
  return encodeGguf({ metadata, tensors });
}

export interface DecodeVectorFileOptions {
  /**
   * The model the vector will be applied to. When given, the vector must match its hidden size,
   * layer count and fingerprint. Foreign files (no `emosteer.*` keys) require it: they do not say
   * which model they are for.
   */
  expectedModel?: ModelInfo | ModelIdentity;
  /** Accept a vector whose fingerprint differs from `expectedModel`'s (e.g. a requantization). Defaults to false. */
  allowFingerprintMismatch?: boolean;
  /** Emotion name for a foreign file. Defaults to the file's `emosteer.emotion`; foreign files need it. */
  emotion?: string;
  /** What to call the file in errors when decoding bytes. Defaults to `"<bytes>"`. */
  name?: string;
}

/**
 * Decodes an EV file (bytes, or a {@link ByteSource} so that a wrong, huge file is refused after
 * its header). Throws {@link InvalidFileError} for anything that is not a valid control-vector
 * file, and the mismatch errors of {@link EmotionVector.assertCompatible} for another model's vector.
 */
export async function decodeVectorFile(file: Uint8Array | ByteSource, options: DecodeVectorFileOptions = {}): Promise<EmotionVector> {
  const source = file instanceof Uint8Array ? bytesByteSource(file, options.name) : file;
  const gguf = await openGguf(source);
  const where = source.name;
  const invalid = (reason: string) => new InvalidFileError(where, reason);

  const arch = gguf.get("general.architecture");
  if (arch !== "controlvector") {
    throw invalid(
      typeof arch === "string"
        ? `general.architecture is "${arch}", not "controlvector": this is a model file, not an EV file`
        : `general.architecture is missing: not a control-vector file`,
    );
  }
  const entry = (key: string, type: GgufValueType): GgufEntry | undefined => {
    const e = gguf.metadata.get(key);
    if (e && e.type !== type) throw invalid(`${key} is a ${ggufValueTypeName(e.type)}, expected ${ggufValueTypeName(type)}`);
    return e;
  };
  const requireEntry = (key: string, type: GgufValueType): GgufEntry => {
    const e = entry(key, type);
    if (!e) throw invalid(`${key} is missing although the file has emosteer keys: written by an incompatible emosteer version?`);
    return e;
  };
  const string = (key: string) => requireEntry(key, GgufValueType.STRING).value as string;
  const count = (key: string) => {
    const n = requireEntry(key, GgufValueType.UINT32).value as number;
    if (n === 0) throw invalid(`${key} is 0`);
    return n;
  };

  const ours = gguf.metadata.has(KEY.formatVersion);
  let model: ModelIdentity;
  let emotion: string;
  let provenance: VectorProvenance;
  if (ours) {
    const version = requireEntry(KEY.formatVersion, GgufValueType.UINT32).value as number;
    if (version > FORMAT_VERSION)
      throw invalid(`written by a newer emosteer (EV format ${version}, this one reads up to ${FORMAT_VERSION}): upgrade emosteer`);
    model = {
      architecture: string(KEY.architecture),
      name: string(KEY.name),
      fingerprint: string(KEY.fingerprint),
      layerCount: count(KEY.layerCount),
      hiddenSize: count(KEY.hiddenSize),
    };
    emotion = options.emotion ?? string(KEY.emotion);
    provenance = parseProvenance(string(KEY.provenance), invalid);
  } else {
    const expected = options.expectedModel;
    if (!expected) throw new ForeignVectorFileError(where, "expectedModel");
    if (!options.emotion) throw new ForeignVectorFileError(where, "emotion");
    model = {
      architecture: expected.architecture,
      name: expected.name,
      fingerprint: expected.fingerprint,
      layerCount: expected.layerCount,
      hiddenSize: expected.hiddenSize,
    };
    emotion = options.emotion;
    const hint = gguf.get("controlvector.model_hint");
    provenance = {
      method: "imported",
      settings: { source: where, ...(typeof hint === "string" ? { modelHint: hint } : {}) },
      samples: 0,
      corpus: "imported",
      corpusHash: "",
      backend: "unknown",
      createdAt: "",
    };
  }
  if (emotion.length === 0) throw invalid("the emotion name is empty");

  // Check every tensor before allocating anything: the sizes in a corrupt file are not to be trusted.
  const layers = gguf.tensors.map((t) => {
    const match = DIRECTION.exec(t.name);
    if (!match) throw invalid(`tensor "${t.name}" is not named direction.<layer>; llama.cpp would refuse this file`);
    const layer = Number(match[1]);
    if (layer === 0) throw invalid("direction.0 is present, but block 0 cannot be steered; llama.cpp would refuse this file");
    if (t.type !== GgmlType.F32) throw invalid(`${t.name} is ${ggmlTypeName(t.type)}; control vectors must be F32`);
    if (t.dims.length !== 1) throw invalid(`${t.name} has shape ${t.dims.join("×")}; control vectors must be 1-D`);
    if (ours && t.dims[0] !== model.hiddenSize)
      throw invalid(`${t.name} has ${t.dims[0]} values but ${KEY.hiddenSize} is ${model.hiddenSize}: the file is corrupt`);
    if (ours && layer >= model.layerCount)
      throw invalid(`${t.name} is present but ${KEY.layerCount} is ${model.layerCount}: the file is corrupt`);
    if (t.dims[0] !== model.hiddenSize) throw new HiddenSizeMismatchError(model.hiddenSize, t.dims[0]!, `${where}: ${t.name}`);
    if (layer >= model.layerCount) throw new LayerCountMismatchError(model.layerCount, layer + 1, `${where}: ${t.name}`);
    return layer;
  });
  // We write every layer 1..L-1, so our files have exactly L-1 tensors; that also bounds L and the
  // hidden size by the file's own size.
  if (ours && gguf.tensors.length !== model.layerCount - 1) {
    throw invalid(
      `the file has ${gguf.tensors.length} direction tensors but ${KEY.layerCount} is ${model.layerCount} (expected ${model.layerCount - 1}): the file is corrupt`,
    );
  }
  if (ours && model.layerCount === 1 && model.hiddenSize > 1 << 20)
    throw invalid(`${KEY.hiddenSize} is ${model.hiddenSize}, not a plausible model width`);
  const directions = Array.from({ length: model.layerCount }, () => new Float32Array(model.hiddenSize));
  for (const [i, t] of gguf.tensors.entries()) {
    const values = new Float32Array(new Uint8Array(await gguf.readTensorBytes(t)).buffer);
    assertFinite(values, `${where}: ${t.name}`);
    directions[layers[i]!] = values;
  }
  const perLayer = (key: string): Float32Array | undefined => {
    const e = entry(key, GgufValueType.ARRAY);
    if (!e) return undefined;
    if (e.elementType !== GgufValueType.FLOAT32) throw invalid(`${key} must be an array of FLOAT32`);
    const values = e.value as Float32Array;
    if (values.length !== model.layerCount)
      throw invalid(`${key} has ${values.length} entries but ${KEY.layerCount} is ${model.layerCount}: the file is corrupt`);
    assertFinite(values, `${where}: ${key}`);
    return values;
  };
  const residualNorms = perLayer(KEY.residualNorms);
  const layerScores = perLayer(KEY.layerScores);
  const profile = readProfile(entry, invalid, model.layerCount, `${where} (EV "${emotion}")`);

  const vector = new EmotionVector({
    emotion,
    model,
    directions,
    provenance,
    ...(residualNorms ? { residualNorms } : {}),
    ...(layerScores ? { layerScores } : {}),
    ...(profile ? { profile } : {}),
  });
  if (options.expectedModel)
    vector.assertCompatible(options.expectedModel, { allowFingerprintMismatch: options.allowFingerprintMismatch ?? false });
  return vector;
}

/**
 * The `emosteer.profile.*` keys as a profile: none present → undefined; some but not all, or of
 * the wrong type → InvalidFileError; layers that do not fit the model → InvalidProfileError.
 */
function readProfile(
  entry: (key: string, type: GgufValueType) => GgufEntry | undefined,
  invalid: (reason: string) => InvalidFileError,
  layerCount: number,
  what: string,
): SteeringProfile | undefined {
  const types: Record<keyof typeof PROFILE_KEY, GgufValueType> = {
    layerFrom: GgufValueType.UINT32,
    layerTo: GgufValueType.UINT32,
    injection: GgufValueType.STRING,
    alpha: GgufValueType.FLOAT64,
    judge: GgufValueType.STRING,
    eps: GgufValueType.FLOAT64,
    fidelity: GgufValueType.FLOAT64,
    perplexityRatio: GgufValueType.FLOAT64,
    distinct2Ratio: GgufValueType.FLOAT64,
    searchedSplit: GgufValueType.STRING,
    searchedQueries: GgufValueType.UINT32,
  };
  const names = Object.keys(PROFILE_KEY) as (keyof typeof PROFILE_KEY)[];
  const values = Object.fromEntries(names.map((n) => [n, entry(PROFILE_KEY[n], types[n])?.value])) as Record<
    keyof typeof PROFILE_KEY,
    unknown
  >;
  const missing = names.filter((n) => values[n] === undefined);
  if (missing.length === names.length) return undefined;
  if (missing.length > 0) throw invalid(`the calibration profile is incomplete: ${missing.map((n) => PROFILE_KEY[n]).join(", ")} missing`);
  const profile: SteeringProfile = {
    layers: { from: values.layerFrom as number, to: values.layerTo as number },
    injection: values.injection as Injection,
    alpha: values.alpha as number,
    judge: values.judge as string,
    objective: {
      eps: values.eps as number,
      fidelity: values.fidelity as number,
      perplexityRatio: values.perplexityRatio as number,
      distinct2Ratio: values.distinct2Ratio as number,
    },
    searchedOn: { split: values.searchedSplit as string, queries: values.searchedQueries as number },
  };
  validateProfile(profile, layerCount, what);
  return profile;
}

function parseProvenance(json: string, invalid: (reason: string) => InvalidFileError): VectorProvenance {
  let p: unknown;
  try {
    p = JSON.parse(json);
  } catch {
    throw invalid("emosteer.provenance is not valid JSON");
  }
  const o = p as Record<string, unknown>;
  const ok =
    o !== null &&
    typeof o === "object" &&
    typeof o.method === "string" &&
    o.settings !== null &&
    typeof o.settings === "object" &&
    !Array.isArray(o.settings) &&
    typeof o.samples === "number" &&
    ["corpus", "corpusHash", "backend", "createdAt"].every((k) => typeof o[k] === "string");
  if (!ok) throw invalid("emosteer.provenance lacks method/settings/samples/corpus/corpusHash/backend/createdAt");
  return p as VectorProvenance;
}
