// The release profile's opt-level, decided by measurement: the core pipeline's CPU per event in
// wasm built at `s` and at `z`, measured side by side in one run (alternating rounds), next to
// each build's size. Writes bench/results/opt-level.json. The deployed bundle's own size is
// bench/bundle.mjs's.
import { execFileSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const base = process.env.CARGO_TARGET_DIR || join(root, "target");
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...opts });

const levels = ["s", "z"];
const mods = {};
const sizes = {};
for (const level of levels) {
  const target = join(base, `opt-${level}`);
  run("cargo", ["build", "--quiet", "--release", "-p", "edgesoc-bench", "--lib", "--target", "wasm32-unknown-unknown"],
    { env: { ...process.env, CARGO_TARGET_DIR: target, CARGO_PROFILE_RELEASE_OPT_LEVEL: level } });
  const wasm = join(target, "wasm32-unknown-unknown/release/edgesoc_bench.wasm");
  const out = join(target, "bench-wasm");
  run("wasm-bindgen", [wasm, "--out-dir", out, "--target", "nodejs"]);
  writeFileSync(join(out, "package.json"), '{"type":"commonjs"}\n');
  mods[level] = createRequire(import.meta.url)(join(out, "edgesoc_bench.js"));
  const bytes = readFileSync(join(out, "edgesoc_bench_bg.wasm"));
  sizes[level] = { bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  mods[level].run_batches(5);
}
const rounds = Object.fromEntries(levels.map((l) => [l, []]));
for (let r = 0; r < 15; r++) {
  for (const level of r % 2 ? [...levels].reverse() : levels) {
    const t0 = process.hrtime.bigint();
    mods[level].run_batches(20);
    rounds[level].push(Number(process.hrtime.bigint() - t0) / 20 / 100);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const result = Object.fromEntries(levels.map((l) => [l, { ns_per_event: Math.round(median(rounds[l])), ...sizes[l] }]));
result.z_over_s_cpu = result.z.ns_per_event / result.s.ns_per_event;
result.z_over_s_gzip = result.z.gzip / result.s.gzip;
mkdirSync(join(root, "bench/results"), { recursive: true });
writeFileSync(join(root, "bench/results/opt-level.json"), JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result));
