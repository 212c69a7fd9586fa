// CPU per event of the core pipeline (validate, assign, enrich, classify, detect), natively and
// compiled to wasm, measured side by side in one run. Writes bench/results/pipeline.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const target = process.env.CARGO_TARGET_DIR || join(root, "target");
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...opts });

// Native: the bench binary prints one JSON line.
const native = JSON.parse(run("cargo", ["run", "--quiet", "--release", "-p", "edgesoc-bench", "--", "15"]).trim().split("\n").pop());

// Wasm: the same crate as a wasm-bindgen module for Node, release profile as deployed.
run("cargo", ["build", "--quiet", "--release", "-p", "edgesoc-bench", "--lib", "--target", "wasm32-unknown-unknown"]);
const outDir = join(target, "bench-wasm");
run("wasm-bindgen", [join(target, "wasm32-unknown-unknown/release/edgesoc_bench.wasm"), "--out-dir", outDir, "--target", "nodejs"]);
// wasm-bindgen's nodejs target is CommonJS; the repository's package.json says "type": "module".
writeFileSync(join(outDir, "package.json"), '{"type":"commonjs"}\n');
const { run_batches } = createRequire(import.meta.url)(join(outDir, "edgesoc_bench.js"));
run_batches(5); // warm up (JIT tiering)
const rounds = [];
for (let r = 0; r < 15; r++) {
  const t0 = process.hrtime.bigint();
  run_batches(40);
  rounds.push(Number(process.hrtime.bigint() - t0) / 40);
}
rounds.sort((a, b) => a - b);
const wasmBatch = rounds[Math.floor(rounds.length / 2)];
const result = {
  native: { ns_per_batch: native.ns_per_batch, ns_per_event: native.ns_per_event },
  wasm: { ns_per_batch: Math.round(wasmBatch), ns_per_event: Math.round(wasmBatch / native.batch) },
  wasm_over_native: wasmBatch / native.ns_per_batch,
  batch: native.batch,
  free_plan_cpu_budget_ms: 10,
};
mkdirSync(join(root, "bench/results"), { recursive: true });
writeFileSync(join(root, "bench/results/pipeline.json"), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
