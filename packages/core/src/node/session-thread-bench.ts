import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { SessionBackend } from "../generation-session.js";

/** What the session-thread benches run in each arm: four greedy requests in one session of 4 (the server's batched decode). */
export const SESSION_THREAD_PROMPTS = [
  "How do I bake bread?",
  "Describe your ideal weekend.",
  "Can you explain how rain forms?",
  "What should I pack for a hike?",
] as const;

/** One arm of a session-thread bench: one batched generation of the prompts, seen from the caller's thread. */
export interface SessionThreadArm {
  decodeMsPerToken: number;
  lagP50Ms: number;
  lagMaxMs: number;
  /** Share of the arm's wall time the caller's event loop was busy (1 = blocked throughout). */
  eventLoopUtilization: number;
}

/** One arm on `backend`: the prompts greedy, `tokens` each, in one session of 4. */
export async function sessionThreadArm(backend: SessionBackend, tokens: number): Promise<SessionThreadArm> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const session = backend.createSession({ parallelSequences: SESSION_THREAD_PROMPTS.length });
  const elu = performance.eventLoopUtilization();
  delay.enable();
  const generations = await Promise.all(SESSION_THREAD_PROMPTS.map((p) => session.generate(p, { maxTokens: tokens })));
  delay.disable();
  const used = performance.eventLoopUtilization(elu);
  await session.dispose();
  const generated = generations.reduce((n, g) => n + g.timings.generatedTokens, 0);
  const decodeMs = Math.max(...generations.map((g) => g.timings.decodeMs));
  return {
    decodeMsPerToken: decodeMs / generated,
    lagP50Ms: delay.percentile(50) / 1e6,
    lagMaxMs: delay.max / 1e6,
    eventLoopUtilization: used.utilization,
  };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const r = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** The medians of a session-thread bench's pairs, worker against caller. */
export interface SessionThreadFigures {
  decode_ms_per_token: { worker: number; caller: number };
  /** Median over pairs of worker / caller decode time per token (> 1: the worker is slower). */
  decode_time_ratio_worker_vs_caller: number;
  event_loop_lag_p50_ms: { worker: number; caller: number };
  event_loop_lag_max_ms: { worker: number; caller: number };
  event_loop_utilization: { worker: number; caller: number };
}

/**
 * `pairs` pairs of arms on a backend whose sessions run in a worker thread and on one whose run on
 * the calling thread, after one warm-up arm each, in alternating order (a drift in the machine's
 * load falls on both); `log` hears each pair.
 */
export async function runSessionThreadPairs(
  backends: { readonly worker: SessionBackend; readonly caller: SessionBackend },
  { pairs, tokens, log }: { readonly pairs: number; readonly tokens: number; readonly log: (line: string) => void },
): Promise<SessionThreadFigures> {
  await sessionThreadArm(backends.worker, tokens);
  await sessionThreadArm(backends.caller, tokens);
  const arms: { worker: SessionThreadArm; caller: SessionThreadArm }[] = [];
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? (["worker", "caller"] as const) : (["caller", "worker"] as const);
    const done: Partial<Record<"worker" | "caller", SessionThreadArm>> = {};
    for (const side of order) done[side] = await sessionThreadArm(backends[side], tokens);
    const [w, c] = [done.worker!, done.caller!];
    arms.push({ worker: w, caller: c });
    log(
      `pair ${i + 1}/${pairs}: decode ms/token worker ${r(w.decodeMsPerToken)} caller ${r(c.decodeMsPerToken)}; lag p50/max worker ${r(w.lagP50Ms)}/${r(w.lagMaxMs)} caller ${r(c.lagP50Ms)}/${r(c.lagMaxMs)} ms; ELU ${r(w.eventLoopUtilization)} / ${r(c.eventLoopUtilization)}`,
    );
  }
  const of = (side: "worker" | "caller", key: keyof SessionThreadArm, d = 2) => r(median(arms.map((a) => a[side][key])), d);
  const both = (key: keyof SessionThreadArm, d = 2) => ({ worker: of("worker", key, d), caller: of("caller", key, d) });
  return {
    decode_ms_per_token: both("decodeMsPerToken"),
    decode_time_ratio_worker_vs_caller: r(median(arms.map((a) => a.worker.decodeMsPerToken / a.caller.decodeMsPerToken)), 3),
    event_loop_lag_p50_ms: both("lagP50Ms"),
    event_loop_lag_max_ms: both("lagMaxMs"),
    event_loop_utilization: both("eventLoopUtilization", 3),
  };
}

/** The Markdown table of {@link SessionThreadFigures} (worker column first). */
export function sessionThreadTable(f: SessionThreadFigures): string {
  return `| | worker thread (default) | caller's thread |
| --- | --- | --- |
| decode ms per token (aggregate) | ${f.decode_ms_per_token.worker} | ${f.decode_ms_per_token.caller} |
| event-loop lag p50 (ms, 10 ms timer) | ${f.event_loop_lag_p50_ms.worker} | ${f.event_loop_lag_p50_ms.caller} |
| event-loop lag max (ms) | ${f.event_loop_lag_max_ms.worker} | ${f.event_loop_lag_max_ms.caller} |
| event-loop utilisation | ${f.event_loop_utilization.worker} | ${f.event_loop_utilization.caller} |`;
}
