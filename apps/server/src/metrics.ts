import { monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { GenerationSession } from "@emosteer/core";
import type { Scheduler } from "./scheduler.js";

/** The server's Prometheus metrics, in a registry of its own (two servers in one process do not mix). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "emosteer_requests_total",
    help: "HTTP requests answered, by route and status code.",
    labelNames: ["route", "status"],
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: "emosteer_tokens_total",
    help: "Tokens processed, by kind (prompt or completion).",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: "emosteer_request_duration_seconds",
    help: "Time from receiving a request to the end of its response, by route.",
    labelNames: ["route"],
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly firstTokenSeconds = new Histogram({
    name: "emosteer_time_to_first_token_seconds",
    help: "Time from receiving a generation request to its first generated token (queue wait included).",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueSeconds = new Histogram({
    name: "emosteer_queue_wait_seconds",
    help: "Time a generation request waited for a slot.",
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly generations = new Counter({
    name: "emosteer_generations_total",
    help: "Generations finished, by finish reason (stop, length, abort, timeout, error).",
    labelNames: ["reason"],
    registers: [this.registry],
  });

  constructor(scheduler: Scheduler, session?: GenerationSession) {
    if (session) {
      // Read from the session's own counters at scrape time: proof that requests share decode runs.
      new Gauge({
        name: "emosteer_decode_runs",
        help: "Batched decode steps the engine session has run (one engine run each), since start.",
        registers: [this.registry],
        collect() {
          this.set(session.stats.decodeRuns);
        },
      });
      new Gauge({
        name: "emosteer_shared_decode_runs",
        help: "Decode steps that carried 2 or more sequences in their one engine run, since start.",
        registers: [this.registry],
        collect() {
          this.set(session.stats.sharedRuns);
        },
      });
      new Gauge({
        name: "emosteer_max_sequences_per_decode_run",
        help: "The most sequences one decode run carried, since start.",
        registers: [this.registry],
        collect() {
          this.set(session.stats.maxSequencesInOneRun);
        },
      });
    }
    new Gauge({
      name: "emosteer_queue_depth",
      help: "Generation requests waiting for a slot.",
      registers: [this.registry],
      collect() {
        this.set(scheduler.queued);
      },
    });
    new Gauge({
      name: "emosteer_active_generations",
      help: "Generations holding a slot.",
      registers: [this.registry],
      collect() {
        this.set(scheduler.running);
      },
    });
    new Gauge({
      name: "emosteer_slots",
      help: "Generations that can run at once.",
      registers: [this.registry],
      collect() {
        this.set(scheduler.options.slots);
      },
    });
    this.eventLoopLag();
  }

  /**
   * How late the server's event loop ran a 10 ms timer, since the previous scrape: an engine that
   * computes on the event loop delays every socket (new requests, streams, aborts) by as much.
   * The histogram resets at each scrape, so a scraper reads the lag of the interval it just saw;
   * it times whole timer intervals, so an idle loop reads about 10 ms.
   */
  private eventLoopLag(): void {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    new Gauge({
      name: "emosteer_event_loop_lag_seconds",
      help: "Event-loop delay since the previous scrape (monitorEventLoopDelay, 10 ms resolution), by stat: p50, p99, max.",
      labelNames: ["stat"],
      registers: [this.registry],
      collect() {
        const seconds = (ns: number) => (delay.count > 0 && Number.isFinite(ns) ? ns / 1e9 : 0);
        this.set({ stat: "p50" }, seconds(delay.percentile(50)));
        this.set({ stat: "p99" }, seconds(delay.percentile(99)));
        this.set({ stat: "max" }, seconds(delay.max));
        delay.reset();
      },
    });
  }
}
