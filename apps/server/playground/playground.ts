// The playground: one prompt answered unsteered and steered, side by side, streamed from this
// server's /v1/chat/completions with the same seed. Settings live in the URL's fragment, so a link
// reproduces them (the API key never goes there).
import { REPETITIVE, repetitionScore } from "./repetition.js";

interface ModelCard {
  readonly id: string;
  readonly backend: string;
  readonly emotions: readonly string[];
  readonly max_alpha: number;
  readonly max_tokens: number;
}

interface Settings {
  prompt: string;
  alphas: Record<string, number>;
  seed: number;
  temperature: number;
  maxTokens: number;
}

const SLIDER_LIMIT = 3;
/** Mixes worth trying first; emotions the server lacks are left out. */
const PRESETS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  "(custom)": {},
  neutral: {},
  cheerful: { joy: 1.5 },
  "very happy": { joy: 2.5 },
  grumpy: { anger: 1.5, joy: -1 },
  anxious: { fear: 2 },
  gloomy: { sadness: 2 },
  disgusted: { disgust: 2 },
  "calm (fear suppressed)": { fear: -1.5 },
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let emotions: readonly string[] = [];
let running: AbortController | null = null;

async function main(): Promise<void> {
  try {
    const models = await (await fetch("/v1/models", { headers: authHeaders() })).json();
    if (models.error) throw new Error(models.error.message);
    const card = models.data[0] as ModelCard;
    emotions = card.emotions;
    $("model").textContent = `${card.id} on ${card.backend}`;
    buildSliders(card);
    applySettings(readSettings());
    document.body.dataset["ready"] = "true";
  } catch (error) {
    status(`error: ${(error as Error).message}`);
    document.body.dataset["error"] = "true";
  }
  $("generate").addEventListener("click", () => void generate());
  $("stop").addEventListener("click", () => running?.abort());
  $("share").addEventListener(
    "click",
    () =>
      void navigator.clipboard?.writeText(location.href).then(
        () => status("link copied"),
        () => status(location.href),
      ),
  );
  $<HTMLSelectElement>("preset").addEventListener("change", (event) => {
    const mix = PRESETS[(event.target as HTMLSelectElement).value];
    if (!mix || (event.target as HTMLSelectElement).value === "(custom)") return;
    for (const emotion of emotions) setSlider(emotion, mix[emotion] ?? 0);
    saveSettings();
  });
  for (const id of ["prompt", "seed", "temperature", "max-tokens"]) $(id).addEventListener("change", saveSettings);
}

function buildSliders(card: ModelCard): void {
  const limit = Math.min(SLIDER_LIMIT, card.max_alpha);
  const sliders = $("sliders");
  for (const emotion of card.emotions) {
    const row = document.createElement("div");
    row.className = "slider";
    row.innerHTML = `<label for="alpha-${emotion}">${emotion}</label><input id="alpha-${emotion}" data-emotion="${emotion}" type="range" min="${-limit}" max="${limit}" step="0.1" value="0"><output id="alpha-${emotion}-value">0</output>`;
    sliders.append(row);
    const input = row.querySelector("input")!;
    input.addEventListener("input", () => {
      $(`alpha-${emotion}-value`).textContent = input.value;
      $<HTMLSelectElement>("preset").value = "(custom)";
      saveSettings();
    });
  }
  const select = $<HTMLSelectElement>("preset");
  for (const [name, mix] of Object.entries(PRESETS)) {
    if (Object.keys(mix).some((e) => !card.emotions.includes(e))) continue;
    select.append(new Option(name, name));
  }
}

function setSlider(emotion: string, alpha: number): void {
  const input = document.getElementById(`alpha-${emotion}`) as HTMLInputElement | null;
  if (!input) return;
  input.value = String(alpha);
  $(`alpha-${emotion}-value`).textContent = input.value;
}

function currentSettings(): Settings {
  const alphas: Record<string, number> = {};
  for (const emotion of emotions) {
    const alpha = Number(($(`alpha-${emotion}`) as HTMLInputElement).value);
    if (alpha !== 0) alphas[emotion] = alpha;
  }
  return {
    prompt: $<HTMLTextAreaElement>("prompt").value,
    alphas,
    seed: Number($<HTMLInputElement>("seed").value) || 0,
    temperature: Number($<HTMLInputElement>("temperature").value),
    maxTokens: Number($<HTMLInputElement>("max-tokens").value) || 64,
  };
}

/** `#q=…&e=joy:1.5,fear:-1&seed=1&t=0.7&n=96`. */
function saveSettings(): void {
  const s = currentSettings();
  const params = new URLSearchParams({
    q: s.prompt,
    e: Object.entries(s.alphas)
      .map(([e, a]) => `${e}:${a}`)
      .join(","),
    seed: String(s.seed),
    t: String(s.temperature),
    n: String(s.maxTokens),
  });
  history.replaceState(null, "", `#${params}`);
}

function readSettings(): Partial<Settings> {
  const params = new URLSearchParams(location.hash.slice(1));
  const settings: Partial<Settings> = {};
  if (params.has("q")) settings.prompt = params.get("q")!;
  if (params.has("e")) {
    settings.alphas = {};
    for (const pair of params.get("e")!.split(",").filter(Boolean)) {
      const [emotion = "", alpha = ""] = pair.split(":");
      if (emotions.includes(emotion) && Number.isFinite(Number(alpha)))
        settings.alphas[emotion] = Math.max(-SLIDER_LIMIT, Math.min(SLIDER_LIMIT, Number(alpha)));
    }
  }
  for (const [key, field] of [
    ["seed", "seed"],
    ["t", "temperature"],
    ["n", "maxTokens"],
  ] as const) {
    if (params.has(key) && Number.isFinite(Number(params.get(key)))) settings[field] = Number(params.get(key));
  }
  return settings;
}

function applySettings(settings: Partial<Settings>): void {
  if (settings.prompt !== undefined) $<HTMLTextAreaElement>("prompt").value = settings.prompt;
  if (settings.alphas) for (const emotion of emotions) setSlider(emotion, settings.alphas[emotion] ?? 0);
  if (settings.seed !== undefined) $<HTMLInputElement>("seed").value = String(settings.seed);
  if (settings.temperature !== undefined) $<HTMLInputElement>("temperature").value = String(settings.temperature);
  if (settings.maxTokens !== undefined) $<HTMLInputElement>("max-tokens").value = String(settings.maxTokens);
}

async function generate(): Promise<void> {
  const settings = currentSettings();
  saveSettings();
  running?.abort();
  const controller = new AbortController();
  running = controller;
  delete document.body.dataset["done"];
  $<HTMLButtonElement>("generate").disabled = true;
  $<HTMLButtonElement>("stop").disabled = false;
  const mix = Object.entries(settings.alphas)
    .map(([e, a]) => `${e} ${a > 0 ? "+" : ""}${a}`)
    .join(", ");
  $("steered-title").textContent = mix ? `Steered: ${mix}` : "Steered (no emotion set)";
  status("generating… (the server runs one answer at a time: the steered one streams after the unsteered one)");
  const started = performance.now();
  try {
    const [plain, steered] = await Promise.all([
      stream("unsteered", settings, {}, controller.signal),
      stream("steered", settings, settings.alphas, controller.signal),
    ]);
    status(`done in ${((performance.now() - started) / 1000).toFixed(1)} s: ${plain} and ${steered} tokens`);
  } catch (error) {
    status(controller.signal.aborted ? "stopped" : `error: ${(error as Error).message}`);
  } finally {
    if (running === controller) running = null;
    $<HTMLButtonElement>("generate").disabled = false;
    $<HTMLButtonElement>("stop").disabled = true;
    document.body.dataset["done"] = "true";
  }
}

/** Streams one answer into pane `pane`; resolves with its completion token count. */
async function stream(
  pane: "unsteered" | "steered",
  settings: Settings,
  alphas: Record<string, number>,
  signal: AbortSignal,
): Promise<number> {
  const out = $(pane);
  const warning = $(`${pane}-warning`);
  const meta = $(`${pane}-meta`);
  out.textContent = "";
  warning.hidden = true;
  meta.textContent = "waiting for a slot…";
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    signal,
    headers: { "content-type": "application/json", ...authHeaders() },
    body: JSON.stringify({
      messages: [{ role: "user", content: settings.prompt }],
      stream: true,
      stream_options: { include_usage: true },
      seed: settings.seed,
      temperature: settings.temperature,
      max_tokens: settings.maxTokens,
      ...(Object.keys(alphas).length ? { emotions: alphas } : {}),
    }),
  });
  if (!response.ok || !response.body)
    throw new Error(
      ((await response.json().catch(() => null)) as { error?: { message: string } } | null)?.error?.message ?? `HTTP ${response.status}`,
    );
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let tokens = 0;
  const started = performance.now();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.replace(/^data: /, "");
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      const text: string | undefined = chunk.choices?.[0]?.delta?.content;
      if (text) {
        if (!out.textContent) meta.textContent = "streaming…";
        out.textContent += text;
        const score = repetitionScore(out.textContent ?? "");
        if (score >= REPETITIVE) {
          warning.hidden = false;
          warning.textContent = `⚠ The text is turning repetitive (${Math.round(score * 100)} % repeated phrases): the steering is probably too strong; lower α.`;
        }
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      const finish = chunk.choices?.[0]?.finish_reason;
      if (finish) meta.textContent = `finish: ${finish}`;
    }
  }
  meta.textContent += ` · ${tokens} tokens in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  return tokens;
}

function authHeaders(): Record<string, string> {
  const key = (document.getElementById("api-key") as HTMLInputElement | null)?.value.trim();
  return key ? { authorization: `Bearer ${key}` } : {};
}

function status(text: string): void {
  $("status").textContent = text;
}

void main();
