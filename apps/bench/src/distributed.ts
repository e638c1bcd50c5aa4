import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { SteeringBackend } from "@emosteer/core";
import { openBackend } from "@emosteer/backends";
import { ensureModel, findModelSpec } from "@emosteer/models";
import PgBoss from "pg-boss";
import { openEngineContext, type PlannedCell, resolveRunInputs } from "./engine-context.js";
import { EngineSession } from "./execute-cell.js";
import { BenchUsageError, type BenchOptions } from "./options.js";
import { gridId, planCells, resolveBackends, resolveMix, resolveModels } from "./plan.js";
import type { PostgresBenchStore } from "./postgres-store.js";
import type { ProgressBar } from "./progress.js";
import { judgeStoredCells, newRunId, runProvenance, runScope } from "./run.js";
import { Scorer } from "./scorer.js";
import { cellId } from "./store.js";

/** The pg-boss queue of bench jobs. */
export const QUEUE = "emosteer-bench-cells";

/** One job: the cells of one query on one model and engine (the unsteered cell first, so the others' fidelity has its reference). */
export interface CellJob {
  readonly planRunId: string;
  /** The planner's options: every worker runs the same grid with the same settings. */
  readonly options: BenchOptions;
  readonly model: string;
  readonly backend: string;
  readonly queryId: string;
  /** {@link gridId}s of the job's cells, in order. */
  readonly cells: readonly string[];
}

export interface QueueSettings {
  /** Seconds a worker holds a job before it is redelivered to another (its lease). */
  readonly leaseSeconds: number;
  /** Redeliveries after an expired lease or a failure. */
  readonly retryLimit: number;
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = { leaseSeconds: 15 * 60, retryLimit: 5 };

async function startBoss(url: string): Promise<PgBoss> {
  // The workers expire leases themselves while they wait (boss.expire()), so pg-boss's own supervisor and cron are off.
  const boss = new PgBoss({ connectionString: url, max: 2, supervise: false, schedule: false });
  boss.on("error", (error) => process.stderr.write(`pg-boss: ${(error as Error).message}\n`));
  await boss.start();
  return boss;
}

/**
 * `pnpm bench --db postgres://…`: plans the grid and enqueues one job per model × engine × query
 * (its cells share one engine load and the query's unsteered reference). Generates nothing.
 */
export async function planDistributed(
  options: BenchOptions,
  store: PostgresBenchStore,
  progress: ProgressBar,
  queue: QueueSettings = DEFAULT_QUEUE_SETTINGS,
): Promise<{ runId: string; jobs: number; cells: number }> {
  if (options.latencyReps > 0 || options.longQueries > 0) {
    throw new BenchUsageError(
      "Latency pairs and long texts are timed on one engine and are not distributed: pass --latency-reps 0 --long-queries 0 with a postgres:// --db (measure them with a single-process SQLite run).",
    );
  }
  if (options.emotionFiles.length > 0 || options.queryFile !== null || options.judgeFile !== null) {
    throw new BenchUsageError(
      "--emotion-file, --query-file and --judge-file name files on this machine, which workers elsewhere cannot read: use the built-in emotions, queries and judges with a postgres:// --db.",
    );
  }
  const runId = newRunId();
  const inputs = resolveRunInputs(options);
  const { emotions, queries } = inputs;
  const models = resolveModels(options);
  const backends = resolveBackends(options);
  const scope = runScope(options, inputs);
  const startedAt = new Date().toISOString();
  await store.startRun({
    runId,
    startedAt,
    options: { ...options, scope, distributed: "planner" },
    skipped: [],
    provenance: runProvenance(null),
  });
  const mix = resolveMix(options, []);
  const jobs: CellJob[] = [];
  let cells = 0;
  for (const spec of models) {
    for (const backend of backends) {
      // Planned as if the engine steers (all three do); a worker whose engine cannot drops the steered cells.
      const planned = planCells({ model: spec.id, backend, options, emotions, queries, setupHash: "" }, mix, true);
      for (const query of queries) {
        const mine = planned.filter((c) => c.query.id === query.id);
        jobs.push({ planRunId: runId, options, model: spec.id, backend, queryId: query.id, cells: mine.map((c) => gridId(c.key)) });
        cells += mine.length;
      }
    }
  }
  const boss = await startBoss(store.url);
  try {
    await boss.createQueue(QUEUE, {
      name: QUEUE,
      policy: "standard",
      retryLimit: queue.retryLimit,
      retryDelay: 0,
      expireInSeconds: queue.leaseSeconds,
    });
    await boss.insert(
      jobs.map((data) => ({ name: QUEUE, data, retryLimit: queue.retryLimit, retryDelay: 0, expireInSeconds: queue.leaseSeconds })),
    );
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
  await store.finishRun(runId, new Date().toISOString());
  progress.log(
    `planned run ${runId}: ${jobs.length} job(s), ${cells} cell(s) on queue ${QUEUE}; start \`pnpm bench worker --db URL\` on each machine`,
  );
  return { runId, jobs: jobs.length, cells };
}

interface OpenEngine {
  readonly key: string;
  readonly backend: SteeringBackend;
  readonly session: EngineSession;
  readonly cells: ReadonlyMap<string, PlannedCell>;
}

export interface WorkerResult {
  readonly worker: string;
  readonly jobs: number;
  /** Cells this worker generated and stored. */
  readonly generated: number;
  /** Cells of its jobs already stored (by an earlier delivery). */
  readonly skipped: number;
  readonly seconds: number;
}

/**
 * `pnpm bench worker --db postgres://…`: takes jobs until the queue has none left (waiting,
 * retried or held by another worker), runs their cells and stores each; the job's last cell and
 * the job's completion commit in one transaction. Delivery is at least once: a redelivered job
 * skips the cells already stored (the cell key makes the write idempotent), and every try at a
 * cell is recorded in `attempts`.
 */
export async function runWorker(
  local: { readonly vectorCache: string },
  store: PostgresBenchStore,
  progress: ProgressBar,
  signal?: AbortSignal,
): Promise<WorkerResult> {
  const started = performance.now();
  const worker = `${hostname()}:${process.pid}:${randomBytes(2).toString("hex")}`;
  const runId = newRunId("worker");
  const boss = await startBoss(store.url);
  let scorer: Scorer | null = null;
  let open: OpenEngine | null = null;
  let jobs = 0;
  let generated = 0;
  let skipped = 0;
  try {
    await boss.createQueue(QUEUE, {
      name: QUEUE,
      policy: "standard",
      ...DEFAULT_QUEUE_SETTINGS,
      retryDelay: 0,
      expireInSeconds: DEFAULT_QUEUE_SETTINGS.leaseSeconds,
    });
    for (;;) {
      signal?.throwIfAborted();
      const [job] = await boss.fetch<CellJob>(QUEUE, { batchSize: 1 });
      if (!job) {
        // Expired leases (a worker killed mid-job) go back to the queue; stop only when nothing is waiting or held.
        await boss.expire();
        if ((await boss.getQueueSize(QUEUE, { before: "completed" })) === 0) break;
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      jobs++;
      try {
        ({ open, scorer, generated, skipped } = await runJob(job, {
          local,
          store,
          progress,
          boss,
          worker,
          runId,
          signal,
          open,
          scorer,
          generated,
          skipped,
        }));
      } catch (error) {
        // Not an interruption: give the job back as failed (pg-boss retries it up to its limit) and stop this worker with the error.
        if (!signal?.aborted) await boss.fail(QUEUE, job.id, { message: (error as Error).message }).catch(() => {});
        throw error;
      }
    }
  } finally {
    if (open) await open.backend.dispose();
    scorer?.dispose();
    await boss.stop({ graceful: false, wait: true });
    if (scorer) await store.finishRun(runId, new Date().toISOString());
  }
  return { worker, jobs, generated, skipped, seconds: (performance.now() - started) / 1000 };
}

interface JobState {
  readonly local: { readonly vectorCache: string };
  readonly store: PostgresBenchStore;
  readonly progress: ProgressBar;
  readonly boss: PgBoss;
  readonly worker: string;
  readonly runId: string;
  readonly signal: AbortSignal | undefined;
  open: OpenEngine | null;
  scorer: Scorer | null;
  generated: number;
  skipped: number;
}

/** Runs one job's cells (opening the judge and the engine when needed) and completes the job with its last cell. */
async function runJob(job: PgBoss.Job<CellJob>, state: JobState): Promise<JobState> {
  const { local, store, progress, boss, worker, runId, signal } = state;
  let { open, scorer, generated, skipped } = state;
  // The planner's options, with this machine's own vector cache.
  const options: BenchOptions = { ...job.data.options, vectorCache: local.vectorCache };
  if (!scorer) {
    scorer = await Scorer.load({ judge: options.judge, onProgress: (m) => progress.log(`  ${m}`) });
    await store.startRun({
      runId,
      startedAt: new Date().toISOString(),
      options: { distributed: "worker", worker, planRunId: job.data.planRunId, judge: options.judge },
      skipped: [],
      provenance: runProvenance(scorer.judgeIdentity),
    });
  }
  const key = `${job.data.planRunId}\u0000${job.data.model}\u0000${job.data.backend}`;
  if (open?.key !== key) {
    if (open) await open.backend.dispose();
    open = null;
    open = await openEngine(key, job.data, options, store, scorer, progress, runId, signal);
  }
  const wanted = job.data.cells.map((g) => open!.cells.get(g)).filter((c): c is PlannedCell => c !== undefined);
  const storedNow = new Map<string, string>();
  for (const [i, cell] of wanted.entries()) {
    const last = i === wanted.length - 1;
    const stored = await store.getCell(cell.key);
    if (stored) {
      skipped++;
      if (cell.spec.method === "none") storedNow.set(cell.query.id, stored.text);
      if (last) await boss.complete(QUEUE, job.id);
      continue;
    }
    await store.startAttempt(cellId(cell.key), worker);
    let reference = storedNow.get(cell.query.id);
    if (reference === undefined && cell.spec.method !== "none") {
      const unsteered = [...open.cells.values()].find((c) => c.query.id === cell.query.id && c.spec.method === "none");
      reference = unsteered ? (await store.getCell(unsteered.key))?.text : undefined;
    }
    const record = await open.session.execute(cell, reference);
    if (cell.spec.method === "none") storedNow.set(cell.query.id, record.text);
    if (last) await store.putCellWith(record, { worker }, (db) => boss.complete(QUEUE, job.id, { db }));
    else await store.putCell(record, { worker });
    generated++;
    progress.log(`  ${worker} stored ${cell.key.model}/${cell.key.backend} ${cell.key.condition} ${cell.key.queryId}`);
  }
  if (wanted.length === 0) await boss.complete(QUEUE, job.id);
  return { ...state, open, scorer, generated, skipped };
}

async function openEngine(
  key: string,
  job: CellJob,
  options: BenchOptions,
  store: PostgresBenchStore,
  scorer: Scorer,
  progress: ProgressBar,
  runId: string,
  signal?: AbortSignal,
): Promise<OpenEngine> {
  const spec = findModelSpec(job.model);
  const local = await ensureModel(spec.id, { ...(signal ? { signal } : {}) });
  progress.log(`${spec.id} on ${job.backend}: loading`);
  const backend = await openBackend(job.backend, {
    modelPath: local.path,
    onProgress: () => {},
    ...(local.spec.chatTemplate ? { chatTemplate: local.spec.chatTemplate } : {}),
    ...(signal ? { signal } : {}),
  });
  try {
    const ctx = await openEngineContext({ spec, backend, options, store, progress, scorer, runId, ...resolveRunInputs(options), signal });
    const steerable = backend.capabilities.steering && backend.capabilities.capture;
    const mix = resolveMix(options, ctx.userEmotions);
    const planned = planCells(
      { model: spec.id, backend: backend.name, options, emotions: ctx.emotions, queries: ctx.queries, setupHash: ctx.setupHash },
      steerable ? mix : null,
      steerable,
    );
    const session = new EngineSession(ctx, mix);
    if (steerable) for (const corpus of options.corpora) await session.vectors(corpus);
    await judgeStoredCells(
      ctx,
      (await store.texts({ model: spec.id, backend: backend.name })).filter((t) => t.setupHash === ctx.setupHash),
    );
    return { key, backend, session, cells: new Map(planned.map((c) => [gridId(c.key), c])) };
  } catch (error) {
    await backend.dispose();
    throw error;
  }
}
