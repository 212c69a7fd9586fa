// CPU profile of the built Worker's isolate under POST /collect load, through workerd's inspector
// (Chrome DevTools protocol): self time and inclusive time per function. Build with names kept
// to read the wasm frames: `scripts/build --profile`.
// Usage: node bench/profile.mjs [--seconds 5] [--top 40]
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import WebSocket from "ws";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, top: { type: "string", default: "40" }, port: { type: "string", default: "9339" } } });
process.env.EDGESOC_INSPECTOR = values.port;
const { start } = await import("../tests/e2e/harness.mjs");
const body = JSON.stringify({ event: "auth.login_failed", actor: { id: "user_123", email: "u@example.com" }, user_ip: "203.0.113.50", metadata: { method: "password" } });

const app = await start({ listen: true, shards: [] });
try {
  const key = await app.createKey({ org: "Profile", plan: "custom" });
  const targets = await (await fetch(`http://127.0.0.1:${values.port}/json`)).json();
  const target = targets.find((t) => /core:user:/.test(t.title ?? ""));
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r) => ws.once("open", r));
  let id = 0;
  const pending = new Map();
  ws.on("message", (m) => {
    const d = JSON.parse(m);
    pending.get(d.id)?.(d.result);
    pending.delete(d.id);
  });
  const send = (method, params = {}) => new Promise((r) => { pending.set(++id, r); ws.send(JSON.stringify({ id, method, params })); });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 200 });
  await send("Profiler.start");
  const seconds = Number(values.seconds);
  const load = await new Promise((res, rej) => autocannon({ url: `${app.url}/collect`, method: "POST", body, headers: { "content-type": "application/json", "X-API-Key": key }, duration: seconds, connections: 16 }, (e, r) => (e ? rej(e) : res(r))));
  const { profile } = await send("Profiler.stop");
  ws.close();
  console.log(`${(load["2xx"] / seconds).toFixed(0)} accepted req/s while profiling`);

  const selfTime = new Map();
  profile.samples.forEach((node, i) => selfTime.set(node, (selfTime.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const name = (n) => n.callFrame.functionName || `(${n.callFrame.url.split("/").pop() || "anonymous"})`;
  const total = [...selfTime.values()].reduce((a, b) => a + b, 0);
  const inclusive = (n) => (selfTime.get(n.id) ?? 0) + (n.children ?? []).reduce((a, c) => a + inclusive(byId.get(c)), 0);
  const table = (title, of) => {
    const sums = new Map();
    for (const n of profile.nodes) sums.set(name(n), (sums.get(name(n)) ?? 0) + of(n));
    console.log(`\n${title}`);
    for (const [k, t] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
      console.log(`${((100 * t) / total).toFixed(1).padStart(5)} %  ${k.slice(0, 140)}`);
    }
  };
  table("self time", (n) => selfTime.get(n.id) ?? 0);
  // Recursive frames are counted once per level: read inclusive figures as an upper bound.
  table("inclusive time", inclusive);
} finally {
  await app.dispose();
}
