import { setupDifferences, setupHash, type EngineSetup } from "./cell-identity.js";
import { BenchUsageError } from "./options.js";
import type { BenchStore } from "./store.js";

/**
 * One database holds one setup per model and engine: the report groups cells by model and engine,
 * so cells written with another temperature, template, fingerprint or engine version would be
 * averaged together. Refuse, naming every difference.
 */
export async function assertSameSetup(store: BenchStore, model: string, backend: string, setup: EngineSetup): Promise<void> {
  const wanted = setupHash(setup);
  for (const other of await store.setups({ model, backend })) {
    if (other.setupHash === wanted) continue;
    throw new BenchUsageError(
      `${store.path} already holds ${model} on ${backend} cells made with another setup (${setupDifferences(other.setup, setup).join("; ")}): ` +
        `pass another --db for this setup, or re-run with the stored settings to extend those results.`,
    );
  }
  await store.putSetup({ model, backend, setupHash: wanted, setup });
}
