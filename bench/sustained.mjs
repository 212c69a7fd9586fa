// Sustained load on one edgesoc instance: timed runs of POST /collect, each followed by a burst
// of 40 requests whose answers are printed (status and body, ids masked) and by a wait until the
// queue consumer has drained. Shows what a long-lived isolate does after tens of thousands of
// requests — the failures that short runs never reach. Load goes to 127.0.0.1 only.
// Usage: node bench/sustained.mjs [--body single|batch] [--runs 4] [--seconds 5]
// Run it against a release build (scripts/build --release), as scripts/bench does.
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { start } from "../tests/e2e/harness.mjs";

const { values } = parseArgs({ options: { body: { type: "string", default: "single" }, runs: { type: "string", default: "4" }, seconds: { type: "string", default: "5" } } });
const seconds = Number(values.seconds);
const bodies = {
  single: JSON.stringify({ event: "auth.login_failed", actor: { id: "user_123", email: "u@example.com" }, user_ip: "203.0.113.50", metadata: { method: "password", _sdk: "litesoc-node" } }),
  batch: JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => ({ event: i % 2 ? "auth.login_success" : "data.export", actor: `user_${i % 20}`, user_ip: `198.51.100.${i}` })) }),
};
const body = bodies[values.body];
const app = await start({ listen: true, shards: [] });
const key = await app.createKey({ org: "Load", plan: "custom" });
const headers = { "content-type": "application/json", "X-API-Key": key };
const mask = (t) => t.replace(/[0-9a-f-]{36}/g, "<id>").slice(0, 200);
try {
  for (let run = 0; run < Number(values.runs); run++) {
    const r = await new Promise((resolve, reject) =>
      autocannon({ url: `${app.url}/collect`, method: "POST", body, headers, duration: seconds, connections: 16 }, (e, res) => (e ? reject(e) : resolve(res))));
    const statuses = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([c, s]) => [c, s.count]));
    const answers = new Map();
    await Promise.all(Array.from({ length: 40 }, async () => {
      const res = await fetch(`${app.url}/collect`, { method: "POST", body, headers });
      const k = `${res.status} ${mask(await res.text())}`;
      answers.set(k, (answers.get(k) ?? 0) + 1);
    }));
    const t0 = Date.now();
    const stored = await app.settle({ timeoutMs: 300000 });
    console.log(`run ${run}: ${(r["2xx"] / seconds).toFixed(0)} accepted req/s, statuses ${JSON.stringify(statuses)}, ` +
      `errors ${r.errors}, timeouts ${r.timeouts}; drained in ${Date.now() - t0} ms, ${stored} events stored`);
    for (const [k, n] of answers) console.log(`  ${n}x ${k}`);
  }
} finally {
  await app.dispose();
}
