// The principal plane of a few long rows: exact for rows that lie in a plane, ordered by variance.
import { describe, expect, it } from "vitest";
import { principalPlane } from "../src/vector-map.js";

describe("principalPlane", () => {
  it("keeps every distance between rows that lie in a 2-D plane of a 64-D space, holding all of their variance", () => {
    const u = Float64Array.from({ length: 64 }, (_, d) => Math.sin(d + 1));
    const w = Float64Array.from({ length: 64 }, (_, d) => Math.cos(3 * d + 2));
    const at = (a: number, b: number) => u.map((x, d) => 5 + a * x + b * w[d]!);
    const rows = [at(0, 0), at(3, 1), at(-2, 4), at(1, -3), at(2, 2)];
    const { coordinates, explained } = principalPlane(rows);
    expect(explained).toBeCloseTo(1, 10);
    const dist = (p: ArrayLike<number>, q: ArrayLike<number>) => Math.hypot(...Array.from(p, (x, i) => x - q[i]!));
    for (let i = 0; i < rows.length; i++)
      for (let j = 0; j < rows.length; j++) expect(dist(coordinates[i]!, coordinates[j]!)).toBeCloseTo(dist(rows[i]!, rows[j]!), 8);
  });

  it("puts the larger spread on the first axis and reports the share the plane holds", () => {
    // Spread 10 along d0, 1 along d1, 0.1 along d2.
    const rows = [
      [10, 0, 0],
      [-10, 0, 0],
      [0, 1, 0.1],
      [0, -1, -0.1],
    ].map((r) => Float64Array.from(r));
    const { coordinates, explained } = principalPlane(rows);
    expect(Math.abs(coordinates[0]![0])).toBeCloseTo(10, 8);
    expect(Math.abs(coordinates[2]![1])).toBeCloseTo(Math.hypot(1, 0.1), 8);
    expect(explained).toBeCloseTo(1, 8); // the third direction is collinear with the second
    const skew = principalPlane([...rows, Float64Array.of(0, 0, 3)]);
    expect(skew.explained).toBeLessThan(1);
    expect(skew.explained).toBeGreaterThan(0.9);
  });
});
