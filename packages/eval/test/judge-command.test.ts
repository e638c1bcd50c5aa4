import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JUDGE_LABELS } from "../src/data.js";
import { createJudge } from "../src/judge.js";
import { runJudgeCommand } from "../src/judge-command.js";

const tmp = mkdtempSync(join(tmpdir(), "emosteer-eval-cmd-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// The command uses the default judge (the committed v2 file); load it once up front (fetches MiniLM on a fresh machine).
beforeAll(async () => {
  await (await createJudge()).embedder();
}, 1_200_000);

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } }, out, err };
}

describe("emosteer judge", () => {
  it("classifies a labelled GoEmotions TSV into JSONL and prints accuracy and macro-F1", async () => {
    const input = join(tmp, "in.tsv");
    writeFileSync(
      input,
      "I love this so much, thank you!\t3\tid1\nThis is disgusting and vile.\t1\tid2\nI'm scared something bad will happen.\t2,5\tid3\n",
    );
    const output = join(tmp, "out.jsonl");
    const c = capture();
    expect(await runJudgeCommand(["--in", input, "--out", output], c.io)).toBe(0);
    const rows = readFileSync(output, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(3);
    expect(rows[0].id).toBe("id1");
    expect(Object.keys(rows[0].probabilities)).toEqual([...JUDGE_LABELS]);
    expect(Object.values(rows[0].probabilities as Record<string, number>).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(rows[0].predicted).toBe("joy");
    expect(c.err.join("")).toMatch(/3 labelled rows: accuracy [0-9.]+, macro-F1 [0-9.]+/);
    expect(c.err.join("")).toMatch(/classified by judge v2 [0-9a-f]{12}/);
  });

  it("reads a single-column TSV and JSONL, writes TSV", async () => {
    const plain = join(tmp, "plain.txt");
    writeFileSync(plain, "What a wonderful surprise!\n\nThis makes me so angry\n");
    const tsvOut = join(tmp, "out.tsv");
    expect(await runJudgeCommand(["--in", plain, "--out", tsvOut], capture().io)).toBe(0);
    const lines = readFileSync(tsvOut, "utf8").trim().split("\n");
    expect(lines[0]).toBe(["text", ...JUDGE_LABELS, "predicted"].join("\t"));
    expect(lines).toHaveLength(3);
    expect(lines[2]!.split("\t")).toHaveLength(9);

    const jsonl = join(tmp, "in.jsonl");
    writeFileSync(jsonl, `${JSON.stringify({ text: "I am so sad and lonely", label: "sadness" })}\n${JSON.stringify({ text: "" })}\n`);
    const c = capture();
    expect(await runJudgeCommand(["--in", jsonl], c.io)).toBe(0);
    const rows = c.out
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(2);
    expect(rows[1].text).toBe("");
    expect(Object.values(rows[1].probabilities as Record<string, number>).every((v) => Number.isFinite(v))).toBe(true);
    expect(c.err.join("")).toMatch(/1 labelled rows/);
  });

  it("accepts non-UTF-8 bytes (read as Latin-1)", async () => {
    const input = join(tmp, "latin1.tsv");
    writeFileSync(input, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x21, 0x0a])); // "café !" in Latin-1
    const c = capture();
    expect(await runJudgeCommand(["--in", input], c.io)).toBe(0);
    expect(JSON.parse(c.out.join("").trim()).text).toBe("café !");
  });

  it("fails clearly on bad usage and bad input", async () => {
    let c = capture();
    expect(await runJudgeCommand([], c.io)).toBe(2);
    expect(c.err.join("")).toMatch(/Missing --in/);
    c = capture();
    expect(await runJudgeCommand(["--in", join(tmp, "nope.tsv")], c.io)).toBe(1);
    expect(c.err.join("")).toMatch(/nope.tsv: input file does not exist/);
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, "{not json}\n");
    c = capture();
    expect(await runJudgeCommand(["--in", bad], c.io)).toBe(1);
    expect(c.err.join("")).toMatch(/bad.jsonl: line 1 is not JSON/);
    c = capture();
    expect(await runJudgeCommand(["--in", bad, "--format", "xml"], c.io)).toBe(2);
    c = capture();
    expect(await runJudgeCommand(["--in", bad, "--judge", "v3"], c.io)).toBe(2);
    expect(c.err.join("")).toMatch(/--judge must be one of v1, v2/);
    c = capture();
    const ok = join(tmp, "ok.txt");
    writeFileSync(ok, "hello\n");
    expect(await runJudgeCommand(["--in", ok, "--judge-file", join(tmp, "none.judge")], c.io)).toBe(1);
    expect(c.err.join("")).toMatch(/none.judge: no judge file here/);
    c = capture();
    expect(await runJudgeCommand(["--help"], c.io)).toBe(0);
    expect(c.out.join("")).toMatch(/Usage: emosteer judge/);
  });
});
