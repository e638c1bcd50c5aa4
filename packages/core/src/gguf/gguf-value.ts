/** Metadata value types, with the ids GGUF files store (`enum gguf_type`). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** The value of an array entry: numeric arrays are typed arrays, 64-bit integers are `bigint`s. */
export type GgufArrayValue =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | readonly boolean[]
  | readonly string[];

/** A metadata value: 64-bit integers are `bigint`s (exact), other numbers `number`s. */
export type GgufValue = number | bigint | boolean | string | GgufArrayValue;

/**
 * One metadata key-value pair. `elementType` is set when `type` is ARRAY. Nested arrays are not
 * supported (llama.cpp's own reader rejects them).
 */
export interface GgufEntry {
  readonly type: GgufValueType;
  readonly elementType?: GgufValueType;
  readonly value: GgufValue;
}

/** Bytes per value of the fixed-size types (STRING and ARRAY are variable). */
export const FIXED_VALUE_SIZE: Readonly<Partial<Record<GgufValueType, number>>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

const NAMES = Object.fromEntries(Object.entries(GgufValueType).map(([k, v]) => [v, k])) as Record<number, string>;

export function ggufValueTypeName(type: number): string {
  return NAMES[type] ?? `type ${type}`;
}
