import type { SummaryRow } from "./aggregate.js";
import { claimLines, VERDICT_THRESHOLDS } from "./claims.js";
import type { SuppressionRow } from "./suppression.js";
import type { VectorMap } from "./vector-map.js";
import type { CorpusComparison } from "./corpus-comparison.js";
import type { CellRecord, SetupRecord } from "./store.js";
import { engineAggregates, engines, evMean, mean, type BenchSummary, type RunInfo } from "./summary.js";

// The report's Markdown: rendering only; every figure comes from the summary.

const f = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits));
const pct = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "–" : `${x >= 0 ? "+" : ""}${x.toFixed(0)} %`;
const ci = (c: readonly [number, number] | null | undefined, digits = 2) => (c ? ` [${f(c[0], digits)}, ${f(c[1], digits)}]` : "");

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...body.map(line)].join("\n");
}

export function renderReport(
  s: BenchSummary,
  cells: readonly CellRecord[],
  plots: readonly { file: string; title: string }[],
  run: RunInfo,
): string {
  const { rows } = s;
  const out: string[] = [];
  const engineList = engines(rows);
  const union = <T>(lists: readonly (readonly T[])[]) => [...new Set(lists.flat())];
  const alphas = union(s.scopes.map((x) => x.alphas)).sort((a, b) => a - b);
  const emotions = union(s.scopes.map((x) => x.emotions));
  const scope = { ...s.scope, alphas, emotions, longAlpha: s.scopes[0]?.longAlpha ?? s.scope.longAlpha };
  out.push("# emosteer benchmark report", "");
  out.push(
    `Generated ${s.generated} from the bench database by \`pnpm bench\` (apps/bench). Do not edit by hand: \`pnpm bench --report-only\` regenerates it.`,
    "",
  );

  out.push("## Setup", "");
  if (run?.note) out.push(run.note, "");
  out.push(
    ...s.scopes.map(
      (x) =>
        `- **${x.model} on ${x.backend}**: ${x.queryIds.length} evaluation queries, emotions ${x.emotions.join(", ")}, α ∈ {${x.alphas.join(", ")}}, at most ${x.maxTokens} new tokens, seed ${x.seed}, vectors \`${x.method}\` on the \`${x.corpus}\` corpus${
          x.corpora.length > 1
            ? ` (also ${x.corpora
                .slice(1)
                .map((c) => `\`${c}\``)
                .join(", ")}: single-emotion cells, compared in "Contrast corpus")`
            : ""
        }${x.command ? `; command \`${x.command}\`` : ""}.`,
    ),
    ...setupLines(s),
    `- Queries: the evaluation split of \`packages/core/prompts/queries.json\`, taken round-robin over the queries' own emotions (every emotion's situations are represented), the same queries for every condition; the vectors come from the disjoint extraction split (\`fixed\`: the repo's contrast corpus, teacher-forced through each model).`,
    `- Generation: ${samplingText(s)}, the model's chat template, the user message only (no system prompt) for the unsteered and steered conditions.`,
    `- Prompt baseline: the emotion-conditioning system prompt of \`packages/core/prompts/system-prompts.json\`, no steering.`,
    `- Judge: every judged figure (EPS, hit rate, the claims) is judge **${s.judge.name}** of @emosteer/eval (id \`${s.judge.id}\`, its weights hash; 7 classes)${
      s.judges.length > 1
        ? `; the database also holds the judgements of ${s.judges
            .filter((j) => j.id !== s.judge.id)
            .map((j) => `${j.name} (\`${j.id.slice(0, 12)}\`)`)
            .join(", ")}, compared in "Judges"`
        : ""
    }. EPS = mean judge probability of the target emotion; hit rate = share of answers whose top class is the target.`,
    `- EAS = NRC EmoLex hits of the target emotion per 100 words (negation-aware); ΔEAS = relative change against the unsteered answers to the same queries (paired).`,
    `- Fidelity = cosine similarity of all-MiniLM-L6-v2 embeddings of each answer and the unsteered answer to the same query (1 at α = 0 by definition). Perplexity = perplexity of the answer under the unsteered model given the query. Repetition = distinct-2 (unique bigrams / bigrams; lower = more repetitive).`,
    `- Intervals: seeded percentile bootstrap (1000 resamples) over queries, 95 %.`,
    "- The texts: every generated text with its cell key and every judge's reading is committed as `benchmarks/bench-texts.jsonl.gz` (`pnpm bench export --db DB --out benchmarks/bench-texts.jsonl.gz`). Any later judge re-reads them without regenerating: `pnpm bench import benchmarks/bench-texts.jsonl.gz --db /tmp/b.sqlite && pnpm bench --rejudge --db /tmp/b.sqlite --out DIR`.",
    ...machineLines(s),
    `- Latest run: ${run.startedAt}${run.finishedAt ? ` to ${run.finishedAt}` : " (not finished)"}.`,
    "",
  );

  if (s.judges.length > 1) out.push(...judgesSection(s));

  out.push("## Main table", "");
  out.push(
    `EPS and hit rate are macro-averaged over the judged emotions of each row's grid (see Setup). Fidelity, perplexity and distinct-2 are at α = +1 (α = 0 in parentheses for perplexity and distinct-2). Decode tok/s is unsteered; overhead is steered / unsteered decode time per token from the interleaved latency pairs.`,
    "",
  );
  const header = [
    "model",
    "backend",
    ...alphas.map((a) => `EPS@${a}`),
    ...alphas.map((a) => `hit@${a}`),
    "ΔEAS@+1",
    "ΔEAS@−1",
    "fidelity@1",
    "perplexity@1 (@0)",
    "distinct-2@1 (@0)",
    "decode tok/s",
    "overhead",
  ];
  const body = engineList.map(({ model, backend }) => {
    const lat = s.latency.find((l) => l.model === model && l.backend === backend);
    const unsteered = rows.find((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha === 0);
    return [
      model,
      backend,
      ...alphas.map((a) => f(evMean(rows, model, backend, a, (r) => r.eps))),
      ...alphas.map((a) => f(evMean(rows, model, backend, a, (r) => r.hit_rate))),
      pct(evMean(rows, model, backend, 1, (r) => r.eas_delta_pct)),
      pct(evMean(rows, model, backend, -1, (r) => r.eas_delta_pct)),
      f(evMean(rows, model, backend, 1, (r) => r.fidelity)),
      `${f(
        evMean(rows, model, backend, 1, (r) => r.perplexity),
        1,
      )} (${f(unsteered?.perplexity, 1)})`,
      `${f(evMean(rows, model, backend, 1, (r) => r.distinct2))} (${f(unsteered?.distinct2)})`,
      f(lat?.unsteered_decode_tps ?? unsteered?.decode_tps, 1),
      lat ? `${f(lat.overhead_ratio, 3)}×` : "–",
    ];
  });
  out.push(table(header, body), "");
  for (const p of plots.filter((p) => p.file.startsWith("eps-") || p.file.startsWith("eas-")))
    out.push(`![${p.title}](plots/${p.file})`, "");

  out.push("## Per emotion", "");
  out.push("EPS with its 95 % interval, and ΔEAS, per emotion and α (n = queries).", "");
  const perEmotion: string[][] = [];
  for (const { model, backend } of engineList) {
    for (const emotion of scope.emotions) {
      const mine = rows.filter((r) => r.model === model && r.backend === backend && r.method === "ev" && r.emotion === emotion);
      if (mine.length === 0) continue;
      perEmotion.push([
        model,
        backend,
        emotion,
        String(mine[0]!.n),
        ...alphas.map((a) => {
          const r = mine.find((x) => x.alpha === a);
          return r ? `${f(r.eps)}${ci(r.eps_ci)}` : "–";
        }),
        ...alphas.filter((a) => a !== 0).map((a) => pct(mine.find((x) => x.alpha === a)?.eas_delta_pct)),
      ]);
    }
  }
  out.push(
    table(
      ["model", "backend", "emotion", "n", ...alphas.map((a) => `EPS@${a}`), ...alphas.filter((a) => a !== 0).map((a) => `ΔEAS@${a}`)],
      perEmotion,
    ),
    "",
  );

  out.push("## Meaning and fluency against α", "");
  out.push("Means over emotions and queries.", "");
  const quality: string[][] = [];
  for (const { model, backend } of engineList) {
    for (const a of alphas) {
      if (!rows.some((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha === a)) continue;
      quality.push([
        model,
        backend,
        String(a),
        f(evMean(rows, model, backend, a, (r) => r.fidelity)),
        f(
          evMean(rows, model, backend, a, (r) => r.perplexity),
          1,
        ),
        f(evMean(rows, model, backend, a, (r) => r.distinct2)),
        f(evMean(rows, model, backend, a, (r) => r.eas)),
      ]);
    }
  }
  out.push(table(["model", "backend", "α", "fidelity", "perplexity", "distinct-2", "EAS"], quality), "");

  const promptRows = rows.filter((r) => r.method === "prompt");
  if (promptRows.length > 0) {
    out.push("## Prompt baseline against steering", "");
    out.push("The emotion-conditioning system prompt (no steering) against EV steering at α = 1 and α = 2, same queries.", "");
    const body = promptRows.map((p) => {
      const at = (a: number) =>
        rows.find((r) => r.model === p.model && r.backend === p.backend && r.method === "ev" && r.emotion === p.emotion && r.alpha === a);
      return [
        p.model,
        p.backend,
        p.emotion,
        `${f(p.eps)}${ci(p.eps_ci)}`,
        f(at(1)?.eps),
        f(at(2)?.eps),
        f(p.hit_rate),
        f(at(1)?.hit_rate),
        pct(p.eas_delta_pct),
        pct(at(1)?.eas_delta_pct),
        f(p.fidelity),
        f(at(1)?.fidelity),
        f(p.perplexity, 1),
        f(at(1)?.perplexity, 1),
      ];
    });
    out.push(
      table(
        [
          "model",
          "backend",
          "emotion",
          "EPS prompt",
          "EPS EV@1",
          "EPS EV@2",
          "hit prompt",
          "hit EV@1",
          "ΔEAS prompt",
          "ΔEAS EV@1",
          "fidelity prompt",
          "fidelity EV@1",
          "ppl prompt",
          "ppl EV@1",
        ],
        body,
      ),
      "",
    );
  }

  const mixRows = rows.filter((r) => r.method === "mix");
  if (mixRows.length > 0) {
    out.push("## Two-emotion mix", "");
    out.push("Both vectors added at once; each row judges one of the mixed emotions, against that emotion alone at the same α.", "");
    const body = mixRows.map((m) => {
      const alone = rows.find(
        (r) => r.model === m.model && r.backend === m.backend && r.method === "ev" && r.emotion === m.emotion && r.alpha === m.alpha,
      );
      return [
        m.model,
        m.backend,
        m.emotion,
        String(m.alpha),
        `${f(m.eps)}${ci(m.eps_ci)}`,
        f(alone?.eps),
        f(m.hit_rate),
        pct(m.eas_delta_pct),
        f(m.fidelity),
        f(m.perplexity, 1),
      ];
    });
    out.push(
      table(["model", "backend", "emotion", "α", "EPS mix", "EPS alone", "hit mix", "ΔEAS mix", "fidelity", "perplexity"], body),
      "",
    );
  }

  if (s.corpus_comparison.length > 0) out.push(...corpusSection(s.corpus_comparison));
  if (s.suppression.length > 0) out.push(...suppressionSection(s.suppression));
  if (s.vector_maps.length > 0) out.push(...vectorMapSection(s.vector_maps, plots));

  out.push("## Speed, memory and extraction", "");
  if (s.latency.length > 0) {
    out.push(
      table(
        [
          "model",
          "backend",
          "pairs",
          "decode tok/s unsteered",
          "decode tok/s steered",
          "prompt tok/s unsteered",
          "prompt tok/s steered",
          "TTFT ms unsteered",
          "TTFT ms steered",
          "overhead",
        ],
        s.latency.map((l) => [
          l.model,
          l.backend,
          String(l.pairs),
          f(l.unsteered_decode_tps, 1),
          f(l.steered_decode_tps, 1),
          f(l.unsteered_prompt_tps, 0),
          f(l.steered_prompt_tps, 0),
          f(l.unsteered_first_token_ms, 0),
          f(l.steered_first_token_ms, 0),
          `${f(l.overhead_ratio, 3)}×`,
        ]),
      ),
      "",
    );
  }
  const extractionBody = s.extraction.map((e) => [
    e.model,
    e.backend,
    e.emotions,
    e.extraction_method,
    e.corpus,
    String(e.queries),
    f(e.seconds, 1),
  ]);
  if (extractionBody.length > 0)
    out.push(
      "Extraction (contrast pairs teacher-forced through the model, for the `self` corpus after the model wrote them; the time of the run that extracted them, later runs load the cached files):",
      "",
      table(["model", "backend", "emotions", "method", "corpus", "pairs", "seconds"], extractionBody),
      "",
    );
  if (s.resources.length > 0)
    out.push(
      "Peak resident memory of the bench process (`process.resourceUsage().maxRSS`, whole process: judge, embedder and every engine loaded so far) and model load time:",
      "",
      table(
        ["model", "backend", "peak RSS MiB", "load s"],
        s.resources.map((r) => [r.model, r.backend, f(r.peak_rss_mb, 0), f(r.load_seconds, 2)]),
      ),
      "",
    );
  for (const p of plots.filter((p) => p.file.startsWith("overhead"))) out.push(`![${p.title}](plots/${p.file})`, "");

  if (s.long_text.length > 0) {
    out.push("## Long-text consistency", "");
    out.push(
      `EPS of each window of a long answer (${"windows"}: model-token windows of one answer) and of each dialogue turn (turns: one segment per assistant turn), steered at the α given in each row (\`--long-alpha\`), against the unsteered texts judged for the same emotion (α = 0). Prompts: \`packages/core/prompts/long-form.json\`.`,
      "",
    );
    out.push(
      table(
        ["model", "backend", "emotion", "α", "kind", "texts", "EPS per segment", "mean", "min", "std within text"],
        s.long_text.map((l) => [
          l.model,
          l.backend,
          l.emotion,
          String(l.alpha),
          l.kind,
          String(l.texts),
          l.eps_by_segment.map((x) => f(x)).join(" → "),
          f(l.eps_mean),
          f(l.eps_min),
          f(l.eps_std),
        ]),
      ),
      "",
    );
  }

  out.push("## The paper's claims", "");
  out.push(...claims(s), "");

  out.push("## Sample answers", "");
  const sampleQuery = cells.find((c) => c.method === "none")?.queryId;
  const sampleEmotion = scope.emotions[0];
  if (sampleQuery && sampleEmotion) {
    for (const { model, backend } of engineList) {
      out.push(`${model} on ${backend}, query \`${sampleQuery}\`, emotion ${sampleEmotion}:`, "");
      const mine = cells.filter((c) => c.model === model && c.backend === backend && c.queryId === sampleQuery);
      out.push(`> **Query:** ${oneLine(mine[0]?.query ?? "")}`, "");
      for (const a of alphas) {
        const c = mine.find((x) => (a === 0 ? x.method === "none" : x.method === "ev" && x.weights[sampleEmotion] === a));
        if (c) out.push(`- α = ${a} (EPS ${f(c.judge[sampleEmotion])}): ${oneLine(c.text).slice(0, 300)}`);
      }
      const p = mine.find((x) => x.method === "prompt" && x.weights[sampleEmotion] !== undefined);
      if (p) out.push(`- prompt baseline (EPS ${f(p.judge[sampleEmotion])}): ${oneLine(p.text).slice(0, 300)}`);
      out.push("");
    }
  }

  out.push(
    "## Model families",
    "",
    "Each registry family, how it is proven (`benchmarks/families.json`: real weights here, or its architecture on synthetic weights in the family's real layout, against llama.cpp on every engine), and its models this report measured.",
    "",
    table(
      ["family", "architecture", "evidence", "measured in this report"],
      s.families.map((x) => [x.family, x.architecture, x.evidence, x.measured_here.join(", ") || "–"]),
    ),
    "",
  );
  out.push("## Not measured here", "");
  if (s.skipped.length === 0) out.push("Every requested model and backend ran.");
  else
    out.push(
      table(
        ["model", "backend", "reason"],
        s.skipped.map((k) => [k.model, k.backend, k.failed ? `**failed the run**: ${k.reason}` : k.reason]),
      ),
    );
  out.push("");
  return `${out.join("\n")}\n`;
}

/** Each engine's recorded setup, and the steering spec they share, from the database. */
function setupLines(s: BenchSummary): string[] {
  const out: string[] = [];
  const steerings = [...new Set(s.setups.map((x) => JSON.stringify(x.setup.steering)))].map(
    (j) => JSON.parse(j) as SetupRecord["setup"]["steering"],
  );
  for (const st of steerings) {
    const netShift = st.injection === "net-shift";
    out.push(
      `- Steering (recorded with the cells): "${st.injection}" injection on blocks ${st.layers} at every position, normalisation ${st.normalization}, layer scale ${st.layerScale}, profile ${st.profile}${netShift ? ": the residual stream at every layer l is shifted by α·EV[l] in total (row l = α·(EV[l] − EV[l−1]), since each block passes on what earlier blocks received), so α = 1 is the mean shift the contrast corpus produced" : ""}. Vectors are cached per model fingerprint, backend, method and corpus hash.`,
    );
  }
  if (s.setups.length > 0) {
    out.push(
      `- Engine setups (cells are keyed by these): ${s.setups.map((x) => `${x.model} on ${x.backend}: weights \`${x.setup.fingerprint}\`, ${x.setup.numerics}, chat template \`${x.setup.chatTemplate}\`, cell format ${x.setup.format}`).join("; ")}.`,
    );
  }
  return out;
}

/** The sampling the cells were made with, from the recorded setups (never assumed). */
export function samplingText(s: Pick<BenchSummary, "setups">): string {
  const temperatures = [...new Set(s.setups.map((x) => x.setup.sampling.temperature))].sort((a, b) => a - b);
  if (temperatures.length === 0) return "sampling not recorded";
  const one = (t: number) =>
    t === 0 ? "greedy decoding (temperature 0)" : `sampling at temperature ${t} (engine-default top-k/top-p, seeded)`;
  if (temperatures.length === 1) return one(temperatures[0]!);
  return s.setups.map((x) => `${x.model} on ${x.backend}: ${one(x.setup.sampling.temperature)}`).join("; ");
}

/** The machines of the runs, as recorded when each ran. */
function machineLines(s: BenchSummary): string[] {
  const machines = new Map<string, { text: string; runs: number }>();
  for (const r of s.runs) {
    const p = r.provenance;
    if (!p) continue;
    const m = p.machine;
    const text = `${m.cores} CPU core(s) (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM, ${m.platform}, Node ${m.node}; engines ${Object.entries(
      p.engines,
    )
      .map(([e, v]) => `${e}: ${v}`)
      .join(", ")}`;
    const known = machines.get(text);
    if (known) known.runs++;
    else machines.set(text, { text, runs: 1 });
  }
  if (machines.size === 0) return ["- Machine: not recorded in this database."];
  const loads = s.runs.filter((r) => r.provenance).map((r) => r.provenance!.machine.loadAverage[0] ?? 0);
  return [
    ...[...machines.values()].map((m) => `- Machine (recorded by ${m.runs} run(s)): ${m.text}.`),
    `- Load average (1 min) when the runs started: ${loads.map((l) => l.toFixed(2)).join(", ")}. Timings are comparable within one run only.`,
  ];
}

/** EPS of the same stored texts under each judge in the database. */
function judgesSection(s: BenchSummary): string[] {
  const out = [
    "## Judges",
    "",
    `The same stored texts, judged by each judge in the database (\`pnpm bench --rejudge --judge NAME\` adds a judge; texts are never regenerated). EPS and hit rate macro-averaged over the grid emotions; α = 0 is the unsteered answers. The report's figures are ${s.judge.name}'s.`,
    "",
  ];
  const keys = new Map<string, { model: string; backend: string; alpha: number }>();
  for (const j of s.judges) for (const e of j.eps) keys.set(`${e.model}\u0000${e.backend}\u0000${e.alpha}`, e);
  const body = [...keys.values()].map((k) => [
    k.model,
    k.backend,
    String(k.alpha),
    ...s.judges.map((j) => f(j.eps.find((e) => e.model === k.model && e.backend === k.backend && e.alpha === k.alpha)?.eps)),
    ...s.judges.map((j) => f(j.eps.find((e) => e.model === k.model && e.backend === k.backend && e.alpha === k.alpha)?.hit_rate)),
  ]);
  // Two files of one judge name (an earlier and a retrained v2) are told apart by their ids.
  const label = (j: (typeof s.judges)[number]) => `${j.name} \`${j.id.slice(0, 8)}\``;
  out.push(
    table(["model", "backend", "α", ...s.judges.map((j) => `EPS ${label(j)}`), ...s.judges.map((j) => `hit ${label(j)}`)], body),
    "",
  );
  out.push(`Judge ids: ${s.judges.map((j) => `${j.name} \`${j.id}\` (${j.cells} cells)`).join("; ")}.`, "");
  return out;
}

function corpusSection(comparisons: readonly CorpusComparison[]): string[] {
  const out: string[] = ["## Contrast corpus: fixed vs self-written", ""];
  out.push(
    "Vectors extracted from the repo's fixed contrast corpus (the same texts for every model, written once by a strong model and teacher-forced through the model) against vectors from answers the model wrote itself under the emotion-conditioning system prompts. The evaluation queries, the unsteered answers (α = 0), the judge and the metrics are the same: only the source of the vectors differs, so a gap here is the effect of the contrast text alone.",
    "",
    "EPS and hit rate are macro-averaged over the emotions steered with both corpora (listed per model); ΔEAS at α = ±1, fidelity and perplexity at α = 1. The primary corpus is the one of the main table, plots and claims (the two-emotion mix, latency and long texts use it only). Extraction seconds are those of the latest recorded extraction of each set (self-written: generating the answers included; – when the vectors were loaded from the cache of a run not in this database).",
    "",
  );
  const alphas = [...new Set(comparisons.flatMap((c) => c.rows.flatMap((r) => r.by_alpha.map((x) => x.alpha))))].sort((a, b) => a - b);
  const body = comparisons.flatMap((c) =>
    c.rows.map((r) => {
      const at = (a: number) => r.by_alpha.find((x) => x.alpha === a);
      return [
        c.model,
        c.backend,
        `${r.corpus}${r.primary ? " (primary)" : ""}`,
        c.emotions.join(", "),
        String(r.n),
        ...alphas.map((a) => f(at(a)?.eps)),
        ...alphas.map((a) => f(at(a)?.hit_rate)),
        pct(r.eas_delta_pct_plus1),
        pct(r.eas_delta_pct_minus1),
        f(r.fidelity_at_1),
        f(r.perplexity_at_1, 1),
        r.extraction_seconds === null ? "–" : `${f(r.extraction_seconds, 1)} (${r.extraction_queries} pairs)`,
      ];
    }),
  );
  out.push(
    table(
      [
        "model",
        "backend",
        "corpus",
        "emotions",
        "n",
        ...alphas.map((a) => `EPS@${a}`),
        ...alphas.map((a) => `hit@${a}`),
        "ΔEAS@+1",
        "ΔEAS@−1",
        "fidelity@1",
        "perplexity@1",
        "extraction s",
      ],
      body,
    ),
    "",
  );
  const cosines = comparisons.flatMap((c) =>
    (c.cosines ?? []).map((x) => [
      c.model,
      c.backend,
      x.emotion,
      `${c.corpora[0]} · ${c.corpora[1]}`,
      String(x.layer),
      f(x.cosine_at_layer, 3),
      f(x.cosine_mean_over_layers, 3),
    ]),
  );
  if (cosines.length > 0) {
    out.push(
      "Cosine similarity between the two vectors of each emotion, from the vector files recorded in the extraction table: at the middle layer k = ⌊L/2⌋, and the mean of the per-layer cosines over the steered layers 1..L−1. 1 means the two corpora found the same direction.",
      "",
      table(["model", "backend", "emotion", "corpora", "layer k", "cosine@k", "mean cosine over layers"], cosines),
      "",
    );
  }
  for (const c of comparisons.filter((c) => c.cosines === null))
    out.push(`Cosine similarity of the vectors not shown for ${c.model} on ${c.backend}: ${c.cosine_note}.`, "");
  return out;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").replace(/\|/g, "\\|").trim();
}

/** One verdict per claim of the paper, with the figures it rests on (macro-averaged over emotions, per model/backend). */
function claims(s: BenchSummary): string[] {
  const out: string[] = [];
  const list = engines(s.rows);
  if (list.length === 0) return ["No steered results in the database."];
  for (const { model, backend } of list) {
    out.push(`### ${model} on ${backend}`, "");
    out.push(...claimLines(engineAggregates(s.rows, model, backend)), "");
  }
  out.push(VERDICT_THRESHOLDS);
  return out;
}

/** The prompt alone against the prompt plus α·EV of the prompted emotion. */
function suppressionSection(rows: readonly SuppressionRow[]): string[] {
  const pct = (x: number | null) => (x === null ? "–" : `${x >= 0 ? "+" : ""}${x.toFixed(0)} %`);
  const ci = (c: [number, number] | null) => (c ? ` [${c[0].toFixed(0)}, ${c[1].toFixed(0)}]` : "");
  const out = [
    "## Suppression under the prompt",
    "",
    "Where there is something to suppress: the emotion's conditioning system prompt (the prompt baseline) alone, against the same prompt plus α·EV of the same emotion, paired by query (`--suppress`). Fidelity is to the prompt-only answer to the same query; EPS of the unsteered answers is shown for scale. Issue 12's target at α = −1: the prompted emotion's EPS cut by ≥ 50 %, fidelity ≥ 0.6.",
    "",
  ];
  const body = rows.map((r) => [
    r.model,
    r.backend,
    r.emotion,
    String(r.alpha),
    String(r.n),
    f(r.eps_unsteered),
    f(r.eps_prompt),
    f(r.eps),
    `${pct(r.eps_change_pct)}${ci(r.eps_change_ci)}`,
    `${f(r.eas_prompt)} → ${f(r.eas)} (${pct(r.eas_change_pct)})`,
    f(r.fidelity_to_prompt),
    `${f(r.perplexity_prompt)} → ${f(r.perplexity)}`,
    f(r.distinct2),
    r.alpha === -1 ? (r.eps_change_pct !== null && r.eps_change_pct <= -50 && (r.fidelity_to_prompt ?? 0) >= 0.6 ? "met" : "not met") : "",
  ]);
  out.push(
    table(
      [
        "model",
        "backend",
        "emotion",
        "α",
        "n",
        "EPS unsteered",
        "EPS prompt",
        "EPS prompt + α·EV",
        "EPS change [95 % CI]",
        "EAS prompt → steered",
        "fidelity to prompt",
        "perplexity prompt → steered",
        "distinct-2",
        "target (α = −1)",
      ],
      body,
    ),
    "",
  );
  return out;
}

/** The core EVs of each model on their principal plane, and their cosines at the middle layer. */
function vectorMapSection(maps: readonly VectorMap[], plots: readonly { readonly file: string; readonly title: string }[]): string[] {
  const out = [
    "## Emotion vectors in 2-D",
    "",
    "The five core EVs of each model (primary corpus) at a quarter, half and three quarters of the depth, projected on their principal plane (PCA of the five centred directions; the share of their variance the plane holds is in each panel's title). Five points a panel: the map shows how the directions sit relative to each other, not a spread of samples. The cosines are of the raw directions at the middle layer, as steering adds them: near 1 means two emotions push the same way there.",
    "",
  ];
  for (const map of maps) {
    const plot = plots.find((p) => p.file.startsWith("vector-map-") && p.title.startsWith(`${map.model} on ${map.backend}:`));
    out.push(`### ${map.model} on ${map.backend}`, "");
    if (plot) out.push(`![${plot.title}](plots/${plot.file})`, "");
    const e = map.emotions;
    const cos = (a: string, b: string) =>
      a === b ? "1" : f(map.cosines.pairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a))?.cosine ?? null);
    out.push(
      `Cosines at layer ${map.cosines.layer}:`,
      "",
      table(
        ["", ...e],
        e.map((a) => [a, ...e.map((b) => cos(a, b))]),
      ),
      "",
    );
  }
  return out;
}
