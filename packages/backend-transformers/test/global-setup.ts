import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Debian's Chromium, the browser the browser test drives (playwright-core downloads none). */
export const CHROMIUM = "/usr/bin/chromium";

/** Installs Debian's `chromium` package when it is missing (CI runs as root on a fresh machine). */
export default function setup(): void {
  if (existsSync(CHROMIUM)) return;
  console.log("[backend-transformers] installing Debian's chromium for the browser test…");
  const apt = (args: string[]) =>
    execFileSync("apt-get", args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  try {
    apt(["update"]);
    apt(["install", "-y", "--no-install-recommends", "chromium"]);
  } catch (error) {
    throw new Error(
      `The browser test needs ${CHROMIUM}; installing it with apt-get failed (run \`apt-get update && apt-get install -y chromium\` as root): ${String(error)}`,
    );
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is missing.`);
}
