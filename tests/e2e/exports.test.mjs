// GET /events/export, /alerts/export and /logs/export end to end (docs/api.md §5.13): parts
// walked by X-Next-Cursor cover every row once in order, CSV is quoted and guarded, the plan
// gate and the filters hold.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";

let app, pro, free;
before(async () => {
  app = await start();
  pro = await app.createKey({ org: "ExportPro", plan: "enterprise" });
  free = await app.createKey({ org: "ExportFree", plan: "free" });
});
after(() => app.dispose());

/** Every part of `path` for `key`: the bodies, and each part's row count header. */
async function walk(path, key) {
  const parts = [];
  for (let next = null; ; ) {
    const res = await app.request(next ? `${path}${path.includes("?") ? "&" : "?"}cursor=${next}` : path, { key });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    parts.push({ body: res.body, rows: Number(res.headers.get("x-export-rows")), type: res.headers.get("content-type") });
    assert.match(res.headers.get("content-disposition"), /^attachment; filename="(events|alerts|logs)-org_[0-9a-f]+\.(ndjson|csv)"$/);
    next = res.headers.get("x-next-cursor");
    if (!next) return parts;
  }
}

const ndjson = (parts) => parts.flatMap((p) => p.body.split("\n").filter(Boolean).map((l) => JSON.parse(l)));

test("1,050 events export in two NDJSON parts, every event once, newest first", async () => {
  for (let b = 0; b < 11; b++) {
    const events = Array.from({ length: b < 10 ? 100 : 50 }, (_, i) => ({
      event: i % 7 === 0 ? "auth.login_failed" : "data.export", actor: `user-${(b * 100 + i) % 37}`, user_ip: "203.0.113.9",
    }));
    assert.equal((await app.collect(pro, { events })).status, 202);
  }
  await app.eventually(async () => (await app.count("SELECT count(*) FROM events")) === 1050, { timeoutMs: 30_000 });
  const parts = await walk("/events/export", pro);
  assert.deepEqual(parts.map((p) => [p.rows, p.type]), [[1000, "application/x-ndjson"], [50, "application/x-ndjson"]]);
  const rows = ndjson(parts);
  const stored = (await app.db.prepare("SELECT id FROM events ORDER BY created_at DESC, id DESC").all()).results.map((r) => r.id);
  assert.deepEqual(rows.map((e) => e.id), stored);
  // The list's objects, and its filters.
  const [first] = (await app.request("/events?limit=1", { key: pro })).body.data;
  assert.deepEqual(rows[0], first);
  const failed = ndjson(await walk("/events/export?event_type=auth.login_failed", pro));
  assert.equal(failed.length, 10 * 15 + 8);
  assert.ok(failed.every((e) => e.event_name === "auth.login_failed"));
});

test("CSV has a header, quotes every cell and guards a cell a spreadsheet would read as a formula", async () => {
  const res = await app.collect(pro, { event: "auth.login_success", actor: '=HYPERLINK("http://evil.example","x")', user_ip: "198.51.100.1",
    metadata: { note: "comma, \"quote\"" } });
  assert.equal(res.status, 202);
  await app.eventually(async () => (await app.count("SELECT count(*) FROM events WHERE event_name = 'auth.login_success'")) === 1);
  const [part] = await walk("/events/export?format=csv&event_type=auth.login_success", pro);
  assert.equal(part.type, "text/csv; charset=utf-8");
  const lines = part.body.split("\r\n");
  assert.equal(lines[0], "id,org_id,created_at,event_name,category,severity,actor_id,actor_email,user_ip,country_code,city,latitude,longitude,is_vpn,is_tor,is_proxy,is_datacenter,threat_score,metadata");
  assert.equal(lines.length, 3, "header, one row, the final line break");
  assert.ok(lines[1].includes(`"'=HYPERLINK(""http://evil.example"",""x"")"`), lines[1]);
  assert.ok(lines[1].includes(`"{""note"":""comma, \\""quote\\""""}"`), lines[1]);
});

test("alerts export on Pro; Free gets the plan gate; a bad format is a 400 naming it", async () => {
  await app.collect(pro, { event: "admin.privilege_escalation", actor: "mallory", user_ip: "203.0.113.66" });
  await app.eventually(async () => (await app.count("SELECT count(*) FROM alerts WHERE actor_id = 'mallory'")) === 1);
  const alerts = ndjson(await walk("/alerts/export", pro));
  assert.ok(alerts.some((a) => a.actor_id === "mallory" && a.status === "open"), JSON.stringify(alerts).slice(0, 300));
  const gated = await app.request("/alerts/export", { key: free });
  assert.equal(gated.status, 403);
  assert.equal(gated.body.error.code, "PLAN_RESTRICTED");
  const bad = await app.request("/events/export?format=xml", { key: pro });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.details[0].field, "format");
});

test("raw lines export with the list's filters; Free's are redacted", async () => {
  const ns = (ms) => `${BigInt(ms) * 1_000_000n}`;
  const values = Array.from({ length: 30 }, (_, i) => [ns(Date.now() - 60_000 + i), i % 3 ? `heartbeat ${i} from 203.0.113.${i}` : `sshd[1]: Failed password for root from 198.51.100.${i} port 22 ssh2`]);
  for (const key of [pro, free]) {
    const res = await app.request("/loki/api/v1/push", { method: "POST", key, headers: { "Content-Type": "application/json" },
      body: { streams: [{ stream: { service: "exp", namespace: "prod" }, values }] } });
    assert.equal(res.status, 204);
  }
  const lines = ndjson(await walk("/logs/export?type=login_failure&service=exp", pro));
  assert.equal(lines.length, 10);
  assert.ok(lines.every((l) => l.type === "login_failure" && l.user === "root" && l.parser === "sshd"));
  const [csv] = await walk("/logs/export?format=csv&q=heartbeat", free);
  const rows = csv.body.trim().split("\r\n");
  assert.equal(rows.length, 21, "header and 20 lines");
  assert.ok(rows[0].startsWith("id,org_id,timestamp,type,"));
  assert.ok(rows.slice(1).every((r) => r.includes(",\"\",\"\",\"\",\"\",") || r.includes('"",""')), "geo, location, network, threat score empty on Free");
});
