import { CORE_EMOTIONS, cosineSimilarity, type EmotionVector } from "@emosteer/core";
import { loadVectorFile } from "@emosteer/core/node";
import type { ExtractionRecord } from "./store.js";

/**
 * The five core EVs of one model on a 2-D map (issue 12: do the emotions separate?): at a quarter,
 * half and three quarters of the depth, the vectors' principal plane (PCA of the five directions,
 * centred), and their raw cosines at the middle layer. Five points a map: it shows how the
 * directions sit relative to each other, not a distribution of samples.
 */
export interface VectorMap {
  readonly model: string;
  readonly backend: string;
  readonly corpus: string;
  readonly emotions: readonly string[];
  readonly layers: readonly {
    readonly layer: number;
    /** Share of the centred vectors' variance the two axes hold. */
    readonly explained_2d: number;
    readonly points: readonly { readonly emotion: string; readonly x: number; readonly y: number; readonly norm: number }[];
  }[];
  /** Cosine of each pair of EVs at the middle layer (uncentred: the directions as steering adds them). */
  readonly cosines: {
    readonly layer: number;
    readonly pairs: readonly { readonly a: string; readonly b: string; readonly cosine: number }[];
  };
}

/** Maps for every model/backend with core EVs of `corpus` recorded in `extractions`; files that are gone are skipped. */
export async function vectorMaps(
  extractions: readonly ExtractionRecord[],
  corpus: (model: string, backend: string) => string,
): Promise<VectorMap[]> {
  const maps: VectorMap[] = [];
  const engines = [...new Set(extractions.map((e) => `${e.model}\u0000${e.backend}`))].sort();
  for (const engine of engines) {
    const [model, backend] = engine.split("\u0000") as [string, string];
    const wanted = corpus(model, backend);
    const vectors: EmotionVector[] = [];
    for (const emotion of CORE_EMOTIONS) {
      const record = extractions
        .filter((e) => e.model === model && e.backend === backend && e.corpus === wanted && e.emotion === emotion && e.vectorPath)
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0];
      if (!record) continue;
      try {
        vectors.push(await loadVectorFile(record.vectorPath));
      } catch {
        // The vector cache of another machine: no map for this vector.
      }
    }
    if (vectors.length < 3) continue;
    const layerCount = vectors[0]!.directions.length;
    const layers = [...new Set([Math.round(layerCount / 4), Math.round(layerCount / 2), Math.round((3 * layerCount) / 4)])].filter(
      (l) => l >= 1 && l < layerCount,
    );
    const middle = Math.round(layerCount / 2);
    const pairs: { a: string; b: string; cosine: number }[] = [];
    for (let i = 0; i < vectors.length; i++)
      for (let j = i + 1; j < vectors.length; j++)
        pairs.push({
          a: vectors[i]!.emotion,
          b: vectors[j]!.emotion,
          cosine: cosineSimilarity(vectors[i]!.directions[middle]!, vectors[j]!.directions[middle]!),
        });
    maps.push({
      model,
      backend,
      corpus: wanted,
      emotions: vectors.map((v) => v.emotion),
      layers: layers.map((layer) => {
        const rows = vectors.map((v) => Float64Array.from(v.directions[layer]!));
        const plane = principalPlane(rows);
        return {
          layer,
          explained_2d: plane.explained,
          points: vectors.map((v, i) => ({
            emotion: v.emotion,
            x: plane.coordinates[i]![0],
            y: plane.coordinates[i]![1],
            norm: norm(rows[i]!),
          })),
        };
      }),
      cosines: { layer: middle, pairs },
    });
  }
  return maps;
}

/** PCA of a few long rows through their (small) Gram matrix: each row's coordinates on the top two axes. */
export function principalPlane(rows: readonly Float64Array[]): { coordinates: [number, number][]; explained: number } {
  const k = rows.length;
  const width = rows[0]!.length;
  const mean = new Float64Array(width);
  for (const r of rows) for (let d = 0; d < width; d++) mean[d]! += r[d]! / k;
  const centred = rows.map((r) => r.map((x, d) => x - mean[d]!));
  const gram = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let d = 0; d < width; d++) s += centred[i]![d]! * centred[j]![d]!;
      gram[i * k + j] = s;
    }
  const { values, vectors } = symmetricEigen(gram, k);
  const order = [...values.keys()].sort((a, b) => values[b]! - values[a]!);
  const total = values.reduce((s, v) => s + Math.max(0, v), 0);
  const [p, q] = [order[0]!, order[1]!];
  // Row i's coordinate on axis a: eigenvector component × √eigenvalue (the Gram-matrix form of PCA scores).
  const coordinates = rows.map(
    (_, i) =>
      [vectors[i * k + p]! * Math.sqrt(Math.max(0, values[p]!)), vectors[i * k + q]! * Math.sqrt(Math.max(0, values[q]!))] as [
        number,
        number,
      ],
  );
  return { coordinates, explained: total > 0 ? (Math.max(0, values[p]!) + Math.max(0, values[q]!)) / total : 0 };
}

/** Cyclic Jacobi rotations: eigenvalues and eigenvectors (columns of `vectors`, row-major n × n) of a small symmetric matrix. */
function symmetricEigen(matrix: Float64Array, n: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j]! ** 2;
    if (off < 1e-24) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: Array.from({ length: n }, (_, i) => a[i * n + i]!), vectors: v };
}

function norm(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}
