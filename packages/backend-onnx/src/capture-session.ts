import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@emosteer/core/node";
import type * as ort from "onnxruntime-node";
import { captureGraphOf } from "./capture-graph.js";
import type { RunOptions, SessionRunner } from "./session-worker.js";

/** The capture graph's file, derived from `model.onnx` beside it (it shares `model.onnx_data`). */
export const CAPTURE_GRAPH_FILE = "model.capture.onnx";

/** Without a capture for this long, the capture session is released (it holds a second copy of the weights). */
const IDLE_MS = 10_000;

/**
 * Where captures run: a session of the capture graph (capture-graph.ts: no LM head), opened at
 * the first capture and released after {@link IDLE_MS} without one, since it holds its own copy
 * of the weights (about 630 MB more RSS on SmolLM2-135M fp32) while it is open. Falls back to the
 * model's own session when the graph cannot be derived or written (a read-only folder): captures
 * are then the same, only slower.
 */
export class CaptureSession {
  private opening: Promise<SessionRunner | null> | undefined;
  private active = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly modelDir: string,
    private readonly open: (modelPath: string) => Promise<SessionRunner>,
    private readonly fallback: SessionRunner,
  ) {}

  async run(feeds: Record<string, ort.Tensor>, fetches: readonly string[], options: RunOptions): Promise<ort.InferenceSession.ReturnType> {
    clearTimeout(this.idle);
    this.active++;
    try {
      this.opening ??= this.openCaptureGraph().catch(() => null);
      const runner = (await this.opening) ?? this.fallback;
      return await runner.run(feeds, fetches, options);
    } finally {
      if (--this.active === 0) {
        // A failed release must not become an unhandled rejection: the next capture opens a fresh session anyway.
        this.idle = setTimeout(() => void this.release().catch(() => {}), IDLE_MS);
        this.idle.unref();
      }
    }
  }

  /** Releases the capture graph's session, if open; the next capture opens it again. */
  async release(): Promise<void> {
    clearTimeout(this.idle);
    const opening = this.opening;
    this.opening = undefined;
    await (await opening)?.release();
  }

  private async openCaptureGraph(): Promise<SessionRunner | null> {
    const dir = join(this.modelDir, "onnx");
    const graph = captureGraphOf(await readFile(join(dir, "model.onnx")));
    if (!graph) return null;
    const path = join(dir, CAPTURE_GRAPH_FILE);
    const existing = await readFile(path).catch(() => null);
    if (!existing || Buffer.compare(existing, graph) !== 0) await writeFileAtomic(path, graph);
    return this.open(path);
  }
}
