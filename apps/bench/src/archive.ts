// A bench database as one gzipped JSON-lines file: every generated text with its cell key and
// every judge's reading of it, plus what the report needs beside the texts (runs, engine setups,
// extractions, latency, resources, long texts). Committed under benchmarks/, it lets any later
// judge re-read the texts behind REPORT.md without regenerating them:
//   pnpm bench import benchmarks/bench-texts.jsonl.gz --db /tmp/b.sqlite && pnpm bench --rejudge --db /tmp/b.sqlite
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  type BenchStore,
  type CellText,
  type ExtractionRecord,
  type Judgement,
  type LatencyRecord,
  type LongTextKey,
  type LongTextRecord,
  type ResourceRecord,
  type RunRecord,
  type SetupRecord,
  cellId,
} from "./store.js";

/** Bumped when a line's shape changes; an archive of another format is refused. */
export const ARCHIVE_FORMAT = 1;

type LongText = Omit<LongTextRecord, "judgeId" | "segments"> & { readonly segments: readonly { index: number; text: string }[] };

type ArchiveLine =
  | { readonly type: "archive"; readonly format: number }
  | { readonly type: "run"; readonly run: RunRecord }
  | { readonly type: "setup"; readonly setup: SetupRecord }
  | { readonly type: "extraction"; readonly extraction: ExtractionRecord }
  | { readonly type: "latency"; readonly latency: LatencyRecord }
  | { readonly type: "resources"; readonly resources: ResourceRecord }
  | { readonly type: "cell"; readonly cell: CellText; readonly judgements: readonly Judgement[] }
  | {
      readonly type: "long";
      readonly long: LongText;
      readonly judgements: readonly { readonly judgeId: string; readonly judges: readonly Readonly<Record<string, number>>[] }[];
    };

export class ArchiveFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveFormatError";
  }
}

export interface ArchiveCounts {
  readonly cells: number;
  readonly judgements: number;
  readonly longTexts: number;
  readonly runs: number;
}

/** Writes every record of `store` to `file` (gzipped JSON lines, written atomically). */
export async function exportArchive(store: BenchStore, file: string): Promise<ArchiveCounts> {
  const lines: ArchiveLine[] = [{ type: "archive", format: ARCHIVE_FORMAT }];
  const runs = await store.runs();
  for (const run of runs) lines.push({ type: "run", run });
  for (const setup of await store.setups()) lines.push({ type: "setup", setup });
  for (const extraction of await store.extractions()) lines.push({ type: "extraction", extraction });
  for (const latency of await store.latency()) lines.push({ type: "latency", latency });
  for (const resources of await store.resources()) lines.push({ type: "resources", resources });

  const judgementsOf = new Map<string, Judgement[]>();
  let judgements = 0;
  for (const { judgeId } of await store.judges()) {
    for (const c of await store.cells({ judgeId })) {
      const list = judgementsOf.get(cellId(c)) ?? [];
      list.push({ judgeId: c.judgeId, judgeName: c.judgeName, judge: c.judge, lexicon: c.lexicon });
      judgementsOf.set(cellId(c), list);
      judgements++;
    }
  }
  const texts = (await store.texts()).map((t) => ({ id: cellId(t), text: t })).sort((a, b) => a.id.localeCompare(b.id));
  for (const { id, text } of texts) lines.push({ type: "cell", cell: text, judgements: judgementsOf.get(id) ?? [] });

  // Long texts come back once per judge; one line per text with each judge's segment readings.
  const longs = new Map<string, { long: LongText; judgements: { judgeId: string; judges: Record<string, number>[] }[] }>();
  const judgeIds = new Set((await store.judges()).map((j) => j.judgeId));
  for (const r of await store.longTexts()) judgeIds.add(r.judgeId);
  for (const judgeId of judgeIds) {
    for (const r of await store.longTexts(judgeId)) {
      const key = JSON.stringify(longKey(r));
      const { judgeId: _judge, segments, ...rest } = r;
      const entry = longs.get(key) ?? { long: { ...rest, segments: segments.map(({ index, text }) => ({ index, text })) }, judgements: [] };
      entry.judgements.push({ judgeId, judges: segments.map((s) => ({ ...s.judge })) });
      longs.set(key, entry);
    }
  }
  for (const key of [...longs.keys()].sort()) lines.push({ type: "long", ...longs.get(key)! });

  const body = gzipSync(Buffer.from(`${lines.map((l) => JSON.stringify(l)).join("\n")}\n`), { level: 9 });
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.${randomUUID().slice(0, 8)}.partial`;
  try {
    writeFileSync(partial, body);
    renameSync(partial, file);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  return { cells: texts.length, judgements, longTexts: longs.size, runs: runs.length };
}

/** Reads an archive into `store`, which must hold no cells yet (an import never mixes databases). */
export async function importArchive(file: string, store: BenchStore): Promise<ArchiveCounts> {
  if ((await store.countCells()) > 0) {
    throw new ArchiveFormatError(`${store.path} already holds cells: import an archive into a new, empty database (--db).`);
  }
  const lines = gunzipSync(readFileSync(file)).toString("utf8").split("\n").filter(Boolean);
  const head = JSON.parse(lines[0] ?? "{}") as Partial<ArchiveLine>;
  if (head.type !== "archive" || (head as { format?: number }).format !== ARCHIVE_FORMAT) {
    throw new ArchiveFormatError(
      `${file} is not a bench archive of format ${ARCHIVE_FORMAT} (first line: ${(lines[0] ?? "").slice(0, 80)}); write it with \`pnpm bench export\` of this version.`,
    );
  }
  let cells = 0;
  let judgements = 0;
  let longTexts = 0;
  let runs = 0;
  for (const raw of lines.slice(1)) {
    const line = JSON.parse(raw) as ArchiveLine;
    switch (line.type) {
      case "run":
        await store.startRun(line.run);
        if (line.run.finishedAt) await store.finishRun(line.run.runId, line.run.finishedAt);
        runs++;
        break;
      case "setup":
        await store.putSetup(line.setup);
        break;
      case "extraction":
        await store.putExtraction(line.extraction);
        break;
      case "latency":
        await store.putLatency(line.latency);
        break;
      case "resources":
        await store.putResources(line.resources);
        break;
      case "cell": {
        const [first, ...rest] = line.judgements;
        if (!first) throw new ArchiveFormatError(`${file}: cell ${cellId(line.cell)} has no judgement; the archive is damaged.`);
        await store.putCell({ ...line.cell, ...first });
        for (const j of rest) await store.putJudgement(line.cell, j);
        cells++;
        judgements += line.judgements.length;
        break;
      }
      case "long": {
        const [first, ...rest] = line.judgements;
        if (!first) throw new ArchiveFormatError(`${file}: a long text has no judgement; the archive is damaged.`);
        await store.putLongText({
          ...line.long,
          judgeId: first.judgeId,
          segments: line.long.segments.map((s, i) => ({ ...s, judge: first.judges[i] ?? {} })),
        });
        for (const j of rest) await store.putLongJudgement(longKey(line.long), j.judgeId, j.judges);
        longTexts++;
        break;
      }
      default:
        throw new ArchiveFormatError(`${file}: unknown line type ${JSON.stringify((line as { type?: unknown }).type)}.`);
    }
  }
  return { cells, judgements, longTexts, runs };
}

function longKey(r: LongTextKey): LongTextKey {
  const { model, backend, extraction, corpus, condition, queryId, kind, maxTokens, seed, setupHash } = r;
  return { model, backend, extraction, corpus, condition, queryId, kind, maxTokens, seed, setupHash };
}
