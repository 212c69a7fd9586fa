// Chromium as every browser test runs it: headless, a fresh profile each run (removed on close),
// the flags that keep it quiet and offline, 1280 × 800 unless a test asks otherwise.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** A persistent context (`options` are Playwright's: viewport, timezoneId, …) and its `close`,
 *  which also removes the profile. */
export async function launchChromium(options = {}) {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} missing: run scripts/setup-browser`);
  const profile = mkdtempSync(join(tmpdir(), "edgesoc-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 800 }, ...options,
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}
