// Alert delivery latency: from the 202 of an instant-alert event to the signed POST at a
// receiver on 127.0.0.1, through the real queue consumer, detection, the delivery queue and
// outbound fetch (the e2e harness in workerd, release build). Measured with the event queue's
// batch wait as in wrangler.toml (1 s) and with none, side by side. Writes
// bench/results/delivery.json.
//   node bench/delivery.mjs [--events 40]
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { start } from "../tests/e2e/harness.mjs";

const { values } = parseArgs({ options: { events: { type: "string", default: "40" } } });
const N = Number(values.events);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function measure(detectBatchTimeout) {
  const arrivals = new Map();
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const actor = JSON.parse(body).data?.alert?.actor_id;
      if (actor) arrivals.set(actor, Date.now());
      res.end("ok");
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  const app = await start({ detectBatchTimeout, shards: [] });
  try {
    const key = await app.createKey({ org: "Latency", plan: "pro" });
    const url = `http://127.0.0.1:${receiver.address().port}/`;
    const made = await app.request("/destinations", { method: "POST", key, body: { name: "bench", kind: "webhook", url } });
    if (made.status !== 201) throw new Error(JSON.stringify(made.body));
    const accepted = new Map();
    for (let i = 0; i < N; i++) {
      const actor = `bench-actor-${detectBatchTimeout}-${i}`;
      const res = await app.collect(key, { event: "admin.privilege_escalation", actor, user_ip: "203.0.113.66" });
      if (res.status !== 202) throw new Error(`collect: ${res.status}`);
      accepted.set(actor, Date.now());
      await new Promise((r) => setTimeout(r, 150 + (i % 7) * 40)); // spread, so batches do not fill
    }
    const deadline = Date.now() + 30_000;
    while (arrivals.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const latencies = [...accepted].filter(([a]) => arrivals.has(a)).map(([a, t]) => arrivals.get(a) - t);
    return {
      detect_batch_timeout_s: detectBatchTimeout, events: N, delivered: latencies.length,
      p50_ms: pct(latencies, 50), p95_ms: pct(latencies, 95), max_ms: Math.max(...latencies),
    };
  } finally {
    await app.dispose();
    receiver.close();
  }
}

const rows = [await measure(1), await measure(0)];
for (const r of rows) console.log(`delivery latency, batch wait ${r.detect_batch_timeout_s} s: p50 ${r.p50_ms} ms, p95 ${r.p95_ms} ms (${r.delivered}/${r.events})`);
writeFileSync(new URL("results/delivery.json", import.meta.url), JSON.stringify({ rows }, null, 2) + "\n");
