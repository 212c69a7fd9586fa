// Deployable bundle size: `wrangler deploy --dry-run` of the release build (wasm-opt applied),
// raw and gzip. Writes bench/results/bundle.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const root = new URL("..", import.meta.url).pathname;
execFileSync(join(root, "scripts/build"), ["--release"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const out = mkdtempSync(join(tmpdir(), "edgesoc-dry-run-"));
try {
  const log = execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", out], {
    cwd: root, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" }, stdio: ["ignore", "pipe", "pipe"],
  });
  const files = readdirSync(out, { recursive: true }).map(String).filter((f) => statSync(join(out, f)).isFile() && !f.endsWith(".map"));
  let raw = 0, gzip = 0;
  for (const f of files) {
    const bytes = readFileSync(join(out, f));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  const reported = log.match(/Total Upload:\s*([\d.]+ KiB) \/ gzip: ([\d.]+ KiB)/);
  const result = { files, raw_bytes: raw, gzip_bytes: gzip, wrangler_reported: reported ? `${reported[1]} / gzip ${reported[2]}` : null, target_gzip_bytes: 1024 * 1024 };
  mkdirSync(join(root, "bench/results"), { recursive: true });
  writeFileSync(join(root, "bench/results/bundle.json"), JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result));
} finally {
  rmSync(out, { recursive: true, force: true });
}
