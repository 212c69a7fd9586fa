// How write capacity grows with D1 databases (docs/CAPACITY.md, "Write throughput"): one D1
// database runs its queries one at a time, so the database time an installation's writes take on
// its busiest database bounds its throughput. The same workload (four organisations, each sending
// events in SDK-sized batches and pushing raw lines) is replayed through the built Worker three
// times, side by side in one run: with every organisation on `DB`; alternating between `DB` and
// `DB_1`; and alternating between `DB_1` and `DB_2`, the primary holding none. The D1 cost meter (EDGESOC_D1_METER=1, src/meter.rs) reports each statement's
// `meta.duration` by binding; the ratio of the one database's time to the busiest database's of
// another layout is how much more that layout takes. Writes bench/results/shards.json.
// Usage: node bench/shards.mjs [--orgs 4] [--requests 30] [--batch 25]
// Load goes to the local instance only: orgs × requests POST /collect and about orgs × 10 pushes.
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { orgIdFor } from "../scripts/lib/keys.mjs";
import { instance } from "./lib.mjs";
import { meterLog } from "./meter.mjs";

const { values } = parseArgs({ options: {
  orgs: { type: "string", default: "4" }, requests: { type: "string", default: "30" }, batch: { type: "string", default: "25" },
} });
const [ORGS, REQUESTS, BATCH] = [values.orgs, values.requests, values.batch].map(Number);
const PUSHES = 10, LINES = 50;
/** A push every `STEP` requests of each organisation. */
const STEP = Math.max(1, Math.floor(REQUESTS / PUSHES));
const ns = (ms) => `${BigInt(Math.trunc(ms)) * 1_000_000n}`;

/** Replays the workload on a fresh instance whose organisation `i` lives on `placeOf(i)`;
 *  answers the database time by binding and the events and lines stored. */
async function run(shards, placeOf) {
  const log = meterLog();
  const app = await instance({ EDGESOC_D1_METER: "1", NETWORK_LIST_SOURCES: "{}" }, { runtimeStdio: log.runtimeStdio, shards });
  try {
    const keys = [];
    for (let i = 0; i < ORGS; i++) keys.push(await app.createKey({ org: `Tenant ${i}`, plan: "enterprise", shard: placeOf(i) }));
    const t0 = Date.now() - 3_600_000;
    for (let r = 0; r < REQUESTS; r++) {
      await Promise.all(keys.map(async (key, i) => {
        const events = Array.from({ length: BATCH }, (_, k) => ({
          event: k % 4 === 0 ? "auth.login_failed" : "auth.login_success",
          actor: { id: `t${i}-user-${(r * BATCH + k) % 40}` },
          user_ip: `198.51.100.${((r * BATCH + k) % 200) + 1}`,
          metadata: { r, k },
        }));
        const res = await app.collect(key, { events });
        if (res.status !== 202) throw new Error(`POST /collect: ${res.status} ${JSON.stringify(res.body)}`);
        if (r % STEP === 0) {
          const values = Array.from({ length: LINES }, (_, k) => [ns(t0 + r * 1000 + k), `sshd: Failed password for root from 203.0.113.${k + 1} port ${r}${k}`]);
          const pushed = await app.request("/loki/api/v1/push", {
            method: "POST", key, headers: { "content-type": "application/json" },
            body: { streams: [{ stream: { service: "sshd", namespace: "prod" }, values }] },
          });
          if (pushed.status !== 204) throw new Error(`push: ${pushed.status}`);
        }
      }));
    }
    // Every event stored (the consumer's invocations are what is measured).
    const expected = REQUESTS * BATCH;
    for (const [i] of keys.entries()) {
      const db = await app.shard(placeOf(i));
      const stored = await app.eventually(async () =>
        (await db.prepare("SELECT count(*) AS n FROM events WHERE org_id = ?").bind(orgIdFor(`Tenant ${i}`)).first()).n === expected,
      { timeoutMs: 120_000, intervalMs: 250 });
      if (!stored) throw new Error(`Tenant ${i}: not every event stored`);
    }
    await new Promise((r) => setTimeout(r, 500)); // the last meter lines trail the answers
    const byDb = {};
    for (const line of log.lines) {
      for (const [db, ms] of Object.entries(line.sql_ms_by_db ?? {})) byDb[db] = (byDb[db] ?? 0) + ms;
    }
    return { by_db_ms: byDb, events: expected * ORGS, lines: Math.ceil(REQUESTS / STEP) * LINES * ORGS };
  } finally {
    await app.dispose();
  }
}

const one = await run([], () => "DB");
const two = await run(["DB_1"], (i) => (i % 2 === 0 ? "DB" : "DB_1"));
// The primary holding no organisation: only what is global (keys, the IP tables, the registry).
const apart = await run(["DB_1", "DB_2"], (i) => (i % 2 === 0 ? "DB_1" : "DB_2"));
const busiest = (r) => Math.max(...Object.values(r.by_db_ms));
const result = {
  measured: new Date().toISOString().slice(0, 10),
  workload: { orgs: ORGS, requests_per_org: REQUESTS, events_per_request: BATCH, events: one.events, raw_lines: one.lines },
  one_database: one,
  two_databases: two,
  two_shards_beside_the_primary: apart,
  busiest_ms: { one: busiest(one), two: busiest(two), apart: busiest(apart) },
  capacity_ratio: busiest(one) / busiest(two),
  capacity_ratio_apart: busiest(one) / busiest(apart),
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/shards.json", JSON.stringify(result, null, 2) + "\n");
console.log(JSON.stringify(result, null, 2));
