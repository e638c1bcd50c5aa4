import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { AbortedError } from "@emosteer/core";

/** Who holds a folder lock: written inside the lock directory. */
interface LockOwner {
  readonly pid: number;
  readonly host: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `task` holding `<folder>.lock` (a directory, created atomically by mkdir, with the holder's
 * pid inside), so two processes never check, remove or replace the same export folder at once: the
 * second waits, then finds the folder the first completed. A lock left by a process of this host
 * that no longer runs is taken over.
 */
export async function withFolderLock<T>(
  folder: string,
  task: () => Promise<T>,
  options: { readonly signal?: AbortSignal; readonly onWait?: (owner: LockOwner) => void } = {},
): Promise<T> {
  const lock = `${folder}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  let told = false;
  for (;;) {
    if (options.signal?.aborted) throw new AbortedError(`Waiting for the lock on ${folder}`);
    try {
      await mkdir(lock);
      await writeFile(join(lock, "owner.json"), JSON.stringify({ pid: process.pid, host: hostname() } satisfies LockOwner));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = await readFile(join(lock, "owner.json"), "utf8").then(
      (t) => JSON.parse(t) as LockOwner,
      () => null,
    );
    if (owner && owner.host === hostname() && !alive(owner.pid)) {
      await rm(lock, { recursive: true, force: true }); // its holder died: take it over
      continue;
    }
    if (owner && !told) {
      options.onWait?.(owner);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await task();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
