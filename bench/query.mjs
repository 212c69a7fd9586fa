// GET /events latency through the Worker in workerd at 10k, 100k and 1M stored events, with
// the query plans behind each query. Writes bench/results/query.json.
// Usage: node bench/query.mjs [--sizes 10000,100000,1000000] [--requests 200]
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { instance, seedEvents, timeIt } from "./lib.mjs";
import { orgIdFor } from "../scripts/lib/keys.mjs";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "10000,100000,1000000" }, requests: { type: "string", default: "200" } } });
const sizes = values.sizes.split(",").map(Number);
const requests = Number(values.requests);

// The statements the Worker issues for each query (crates/core/src/analytics/events.rs builds them,
// naming the filter's index; its unit tests pin this shape), for EXPLAIN QUERY PLAN.
const QUERIES = [
  { name: "filtered by actor", path: "/events?actor_id=user-42&limit=50", from: "events INDEXED BY events_org_actor_created", where: "org_id = ?1 AND created_at >= ?2 AND actor_id = ?3", params: ["user-42"] },
  { name: "filtered by event name", path: "/events?event_type=auth.login_failed&limit=50", from: "events INDEXED BY events_org_name_created", where: "org_id = ?1 AND created_at >= ?2 AND event_name = ?3", params: ["auth.login_failed"] },
  { name: "unfiltered first page", path: "/events?limit=50", from: "events INDEXED BY events_org_created", where: "org_id = ?1 AND created_at >= ?2", params: [] },
];

async function plan(app, sql, params) {
  const rows = (await app.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all()).results;
  return rows.map((r) => r.detail).join("; ");
}

const app = await instance();
const results = { sizes: [], plans: {} };
try {
  const key = await app.createKey({ org: "Bench", plan: "custom", retentionDays: 90 });
  await app.createKey({ org: "Neighbour", plan: "pro" });
  let seeded = 0;
  for (const size of sizes) {
    const t0 = Date.now();
    await seedEvents(app, "Bench", size - seeded, { onProgress: (n) => process.stderr.write(`\rseeding ${seeded + n}/${size}`) });
    seeded = size;
    process.stderr.write(` (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    await app.db.prepare("ANALYZE").run();
    const row = { size, health: await timeIt(requests, () => app.request("/health", { key })) };
    for (const q of QUERIES) {
      for (let i = 0; i < 10; i++) await app.request(q.path, { key }); // warm up
      row[q.name] = await timeIt(requests, async () => {
        const res = await app.request(q.path, { key });
        if (res.status !== 200) throw new Error(`${q.path}: ${res.status}`);
      });
    }
    results.sizes.push(row);
    console.error(JSON.stringify(row));
  }
  const cutoff = Date.now() - 90 * 86_400_000;
  for (const q of QUERIES) {
    const params = [orgIdFor("Bench"), cutoff, ...q.params];
    results.plans[q.name] = {
      page: await plan(app, `SELECT * FROM ${q.from} WHERE ${q.where} ORDER BY created_at DESC, id DESC LIMIT 51 OFFSET 0`, params),
      count: await plan(app, `SELECT count(*) AS total FROM ${q.from} WHERE ${q.where}`, params),
    };
  }
} finally {
  await app.dispose();
}
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/query.json", import.meta.url), JSON.stringify(results, null, 2));
console.log(JSON.stringify(results.plans, null, 2));
