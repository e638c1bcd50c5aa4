import { describe, expect, it } from "vitest";
import { conditionKey } from "../src/condition.js";
import { BenchUsageError, parseBenchArgs, type BenchOptions } from "../src/options.js";
import newQueriesJson from "@emosteer/core/prompts/new-queries.json" with { type: "json" };
import { evaluationQueries, querySetOf } from "../src/queries.js";

const env = { cacheDir: "/cache", cwd: "/repo" };
const parse = (argv: string[]) => parseBenchArgs(argv, env) as BenchOptions;

describe("parseBenchArgs", () => {
  it("defaults to the paper's grid, greedy decoding and benchmarks/ as output", () => {
    const o = parse([]);
    expect(o).toMatchObject({
      models: "all",
      backends: "all",
      emotions: "default",
      alphas: [-1, 0, 0.5, 1, 2, 4],
      queries: "all",
      maxTokens: 64,
      method: "mean-diff",
      corpus: "fixed",
      temperature: 0,
      seed: 0,
      mix: { joy: 1, fear: 1 },
      baseline: true,
      out: "/repo/benchmarks",
      db: "/cache/bench/bench.sqlite",
    });
    // The CLI's and the library's vector cache, not one of its own.
    expect(o.vectorCache).toBe("/cache/vectors");
    expect(parse(["--vector-cache", "v"]).vectorCache).toBe("/repo/v");
  });

  it("scores with judge v2 by default; --judge v1 and --judge-file select another", () => {
    expect(parse([])).toMatchObject({ judge: "v2", judgeFile: null });
    expect(parse(["--judge", "v1"]).judge).toBe("v1");
    expect(parse(["--judge-file", "j/v2.judge"]).judgeFile).toBe("/repo/j/v2.judge");
    expect(() => parse(["--judge", "v3"])).toThrow(BenchUsageError);
    expect(() => parse(["--judge", "v3"])).toThrow(/--judge must be one of v1, v2/);
  });

  it("--quick picks the default model on llama.cpp with few queries and its own database", () => {
    const o = parse(["--quick"]);
    expect(o).toMatchObject({
      models: ["smollm2-135m-instruct"],
      backends: ["llama.cpp"],
      queries: 3,
      maxTokens: 48,
      extractionQueries: 20,
      db: "/cache/bench/quick.sqlite",
    });
    expect(parse(["--quick", "--queries", "7"]).queries).toBe(7);
  });

  it("parses lists, sorts and dedupes α, and reads the mix", () => {
    const o = parse(["--models", "a,b", "--alphas", "2,-1,0,2", "--mix", "joy=1,sadness=0.5", "--emotions", "joy, awe", "--out", "x"]);
    expect(o).toMatchObject({
      models: ["a", "b"],
      alphas: [-1, 0, 2],
      mix: { joy: 1, sadness: 0.5 },
      emotions: ["joy", "awe"],
      out: "/repo/x",
    });
    expect(parse(["--mix", "none"]).mix).toBeNull();
  });

  it("reads --corpora as a primary-first list, --corpus as its one-corpus alias, and defaults to fixed", () => {
    expect(parse([])).toMatchObject({ corpus: "fixed", corpora: ["fixed"] });
    expect(parse(["--corpora", "fixed,self"])).toMatchObject({ corpus: "fixed", corpora: ["fixed", "self"] });
    expect(parse(["--corpora", "self, fixed,self"])).toMatchObject({ corpus: "self", corpora: ["self", "fixed"] });
    expect(parse(["--corpus", "self"])).toMatchObject({ corpus: "self", corpora: ["self"] });
    expect(() => parse(["--corpora", "fixed,mine"])).toThrow(/--corpora: "mine" is not a corpus; use fixed, fixed-v2, self/);
    expect(() => parse(["--corpora", ","])).toThrow(/--corpora needs at least one corpus/);
    expect(() => parse(["--corpus", "self", "--corpora", "fixed,self"])).toThrow(/give one of them/);
  });

  it("names the bad option", () => {
    expect(() => parse(["--queries", "0"])).toThrow(/--queries must be a whole number of at least 1/);
    expect(() => parse(["--alphas", "1,x"])).toThrow(/--alphas: "x" is not a number/);
    expect(() => parse(["--corpus", "mine"])).toThrow(BenchUsageError);
    expect(() => parse(["--mix", "joy=1"])).toThrow(/at least two emotions/);
    expect(() => parse(["--bogus"])).toThrow(BenchUsageError);
    expect(parseBenchArgs(["--help"], env)).toBe("help");
  });
});

describe("conditions and queries", () => {
  it("keys α = 0 as the shared unsteered condition and sorts mix emotions", () => {
    expect(conditionKey({ method: "ev", emotion: "joy", alpha: 0 })).toBe("none");
    expect(conditionKey({ method: "ev", emotion: "joy", alpha: -1 })).toBe("ev:joy@-1");
    expect(conditionKey({ method: "mix", weights: { joy: 1, fear: 1 } })).toBe("mix:fear@1+joy@1");
  });

  it("takes evaluation queries round-robin over their emotions", () => {
    const q = evaluationQueries({ count: 10, file: null });
    expect(q).toHaveLength(10);
    expect(new Set(q.slice(0, 5).map((x) => x.emotion)).size).toBe(5);
    expect(evaluationQueries({ count: "all", file: null })).toHaveLength(150);
  });

  it("takes the new-query set round-robin over its domains, with ids no evaluation query has", () => {
    const all = evaluationQueries({ count: "all", file: null, set: "new" });
    expect(all.length).toBeGreaterThanOrEqual(100);
    const evaluationIds = new Set(evaluationQueries({ count: "all", file: null }).map((q) => q.id));
    for (const q of all) {
      expect(evaluationIds.has(q.id), q.id).toBe(false);
      expect(querySetOf(q.id)).toBe("new");
    }
    const domainOf = new Map(newQueriesJson.queries.map((q) => [q.id, q.domain]));
    const domains = new Set(domainOf.values());
    const first = evaluationQueries({ count: domains.size, file: null, set: "new" });
    expect(new Set(first.map((q) => domainOf.get(q.id))).size).toBe(domains.size);
    expect(querySetOf("joy-031")).toBe("evaluation");
    expect(querySetOf("file-0123456789ab")).toBe("file");
  });

  it("parses --query-set and refuses it beside --query-file", () => {
    expect(parse(["--query-set", "new"]).querySet).toBe("new");
    expect(parse([]).querySet).toBe("evaluation");
    expect(() => parse(["--query-set", "other"])).toThrow(/--query-set must be one of evaluation, new, got "other"/);
    expect(() => parse(["--query-set", "new", "--query-file", "q.txt"])).toThrow(/pass one of them/);
  });
});
