import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { LatencyRow, SummaryRow } from "./aggregate.js";
import type { VectorMap } from "./vector-map.js";

/** A plot to write: file name (under plots/) and SVG text. */
export interface Plot {
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

/** Renders a vega-lite spec to SVG in Node (vega View, renderer "none", toSVG). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** EPS and EAS against α per model (one line per emotion and backend), and overhead per backend. */
export async function benchPlots(
  rows: readonly SummaryRow[],
  latency: readonly LatencyRow[],
  maps: readonly VectorMap[] = [],
): Promise<Plot[]> {
  const plots: Plot[] = [];
  for (const map of maps) {
    const label = (l: VectorMap["layers"][number]) => `layer ${l.layer} (2-D: ${(100 * l.explained_2d).toFixed(0)} %)`;
    const values = map.layers.flatMap((l) => l.points.map((p) => ({ ...p, layer: label(l) })));
    const spec: TopLevelSpec = {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: `${map.model} on ${map.backend}: the core EVs (${map.corpus} corpus), principal plane per layer`,
      data: { values },
      facet: { column: { field: "layer", type: "nominal", title: null, sort: map.layers.map(label) } },
      spec: {
        width: 200,
        height: 200,
        layer: [
          {
            mark: { type: "point", filled: true, size: 90 },
            encoding: {
              x: { field: "x", type: "quantitative", title: "PC 1" },
              y: { field: "y", type: "quantitative", title: "PC 2" },
              color: { field: "emotion", type: "nominal", title: "emotion" },
            },
          },
          {
            mark: { type: "text", dy: -10 },
            encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" }, text: { field: "emotion" } },
          },
        ],
      },
      resolve: { scale: { x: "independent", y: "independent" } },
    };
    const name = `${map.model} on ${map.backend}`;
    plots.push({
      file: `vector-map-${slug(name)}.svg`,
      title: `${name}: the core EVs on their principal plane`,
      svg: await renderSvg(spec),
    });
  }
  const evRows = rows.filter((r) => r.method === "ev" && r.alpha !== null);
  for (const model of [...new Set(evRows.map((r) => r.model))]) {
    const mine = evRows.filter((r) => r.model === model);
    for (const [metric, field, title] of [
      ["eps", "eps", "EPS (judge probability)"],
      ["eas", "eas", "EAS (lexicon hits / 100 words)"],
    ] as const) {
      const values = mine
        .filter((r) => r[field] !== null)
        .map((r) => ({
          alpha: r.alpha,
          value: r[field],
          emotion: r.emotion,
          backend: r.backend,
          low: metric === "eps" ? r.eps_ci?.[0] : r.eas_ci?.[0],
          high: metric === "eps" ? r.eps_ci?.[1] : r.eas_ci?.[1],
        }));
      if (values.length === 0) continue;
      const spec: TopLevelSpec = {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title: `${model}: ${metric.toUpperCase()} against α`,
        width: 420,
        height: 260,
        data: { values },
        layer: [
          {
            mark: { type: "errorbar", opacity: 0.5 },
            encoding: {
              x: { field: "alpha", type: "quantitative", title: "α (× EV)" },
              y: { field: "low", type: "quantitative", title },
              y2: { field: "high" },
              color: { field: "emotion", type: "nominal" },
            },
          },
          {
            mark: { type: "line", point: true },
            encoding: {
              x: { field: "alpha", type: "quantitative", title: "α (× EV)" },
              y: { field: "value", type: "quantitative", title, ...(metric === "eps" ? { scale: { domain: [0, 1] } } : {}) },
              color: { field: "emotion", type: "nominal", title: "emotion" },
              strokeDash: { field: "backend", type: "nominal", title: "backend" },
            },
          },
        ],
      };
      plots.push({
        file: `${metric}-vs-alpha-${slug(model)}.svg`,
        title: `${model}: ${metric.toUpperCase()} against α`,
        svg: await renderSvg(spec),
      });
    }
  }
  if (latency.length > 0) {
    const spec: TopLevelSpec = {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: "Steering overhead per backend (interleaved pairs)",
      width: 420,
      height: 220,
      data: { values: latency.map((l) => ({ backend: l.backend, model: l.model, overhead: l.overhead_ratio })) },
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            x: { field: "backend", type: "nominal", title: "backend" },
            xOffset: { field: "model", type: "nominal" },
            y: { field: "overhead", type: "quantitative", title: "steered / unsteered decode ms per token", scale: { zero: true } },
            color: { field: "model", type: "nominal", title: "model" },
          },
        },
        { mark: { type: "rule", strokeDash: [4, 4], color: "black" }, encoding: { y: { datum: 1 } } },
      ],
    };
    plots.push({ file: "overhead-by-backend.svg", title: "Steering overhead per backend", svg: await renderSvg(spec) });
  }
  return plots;
}

export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, "-")
    .replace(/^-|-$/g, "");
}
