// Throughput of the distributed bench on this machine: the same grid planned into a fresh
// PostgreSQL database and run by 1 worker, then by 2 workers at once; wall time from the workers'
// start to the last one's exit (judge, model and engine loads included; vectors from the cache).
// Writes benchmarks/DISTRIBUTED.md and benchmarks/distributed.json.
//   cd apps/bench && npx tsx --conditions=@emosteer/source scripts/distributed-throughput.ts [--backend llama.cpp] [--queries 6]
import { spawn } from "node:child_process";
import { cpus, loadavg, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "@emosteer/core/node";
import pg from "pg";

const { values } = parseArgs({
  options: { backend: { type: "string", default: "llama.cpp" }, queries: { type: "string", default: "6" }, server: { type: "string" } },
});
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const main = join(repoRoot, "apps", "bench", "src", "main.ts");
const server = values.server ?? `postgresql://${userInfo().username}@localhost/postgres?host=/var/run/postgresql`;
const grid = [
  "--models",
  "smollm2-135m-instruct",
  "--backends",
  values.backend!,
  "--emotions",
  "joy,sadness",
  "--alphas",
  "0,1",
  "--queries",
  values.queries!,
  "--max-tokens",
  "24",
  "--mix",
  "none",
  "--long-queries",
  "0",
  "--latency-reps",
  "0",
  "--extraction-queries",
  "4",
];

function bench(args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, ["--conditions=@emosteer/source", "--import", "tsx", main, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((ok, fail) =>
    child.on("exit", (code) => (code === 0 ? ok() : fail(new Error(`bench ${args.join(" ")} exited with ${code}:\n${stderr}`)))),
  );
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  await c.query(sql);
  await c.end();
}

async function measure(workers: number): Promise<{ workers: number; cells: number; seconds: number; cells_per_minute: number }> {
  const db = `emosteer_bench_throughput_${workers}_${process.pid}`;
  await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${db}`);
  const url = new URL(server);
  url.pathname = `/${db}`;
  try {
    await bench([...grid, "--db", url.toString()]);
    const started = performance.now();
    await Promise.all(Array.from({ length: workers }, () => bench(["worker", "--db", url.toString()])));
    const seconds = (performance.now() - started) / 1000;
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    const cells = Number((await c.query("SELECT COUNT(*) AS n FROM cells")).rows[0].n);
    await c.end();
    return { workers, cells, seconds, cells_per_minute: (cells / seconds) * 60 };
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

const load = loadavg()[0]!;
const one = await measure(1);
const two = await measure(2);
const result = {
  generated: new Date().toISOString(),
  backend: values.backend,
  grid,
  machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, load_average_1m_at_start: load },
  runs: [one, two],
  speedup: one.seconds / two.seconds,
};
await writeFileAtomic(join(repoRoot, "benchmarks", "distributed.json"), `${JSON.stringify(result, null, 2)}\n`);
const md = `# Distributed bench throughput

Generated ${result.generated} by \`cd apps/bench && npx tsx --conditions=@emosteer/source scripts/distributed-throughput.ts --backend ${values.backend} --queries ${values.queries}\`.
The same grid (smollm2-135m-instruct on ${values.backend}: ${grid.slice(4).join(" ")}) planned into a fresh PostgreSQL database, then run by 1 worker and by 2 workers on this machine (${result.machine.cores} cores, ${result.machine.cpu}, 1-minute load ${load.toFixed(2)} at the start, shared with other jobs). Wall time from the workers' start to the last exit, judge, model and engine loads included (vectors from the cache).

| workers | cells | seconds | cells/min |
| --- | --- | --- | --- |
${result.runs.map((r) => `| ${r.workers} | ${r.cells} | ${r.seconds.toFixed(1)} | ${r.cells_per_minute.toFixed(1)} |`).join("\n")}

2 workers / 1 worker: ${result.speedup.toFixed(2)}× faster. On 2 cores both workers compete for the same cores (each engine uses its default thread count), so this is the queue's overhead and the cores' limit, not a many-machine figure.
`;
await writeFileAtomic(join(repoRoot, "benchmarks", "DISTRIBUTED.md"), md);
process.stdout.write(md);
