// Moving an organisation between D1 databases (scripts/lib/move.mjs, scripts/move-org;
// docs/CAPACITY.md, "Moving an organisation") while it sends events and raw lines: every event
// accepted during the move is stored exactly once on the new database, its data reads the same
// before and after, changes wait (503 and Retry-After) instead of being lost, nothing of it is
// left on the old database, and the organisation beside it is untouched. A move that stops is
// resumed without copying anything twice, or undone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { getPlatformProxy } from "wrangler";
import { migrationStatements, orgIdFor } from "../../scripts/lib/keys.mjs";
import { rebuildRollups } from "../../scripts/lib/rollups.mjs";
import { abortMove, moveOrg, orgTables, ROLLUPS } from "../../scripts/lib/move.mjs";
import { receiver, start } from "./harness.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const MOVER = orgIdFor("Mover");
const STAY = orgIdFor("Stay");
const ns = (ms) => `${BigInt(Math.trunc(ms)) * 1_000_000n}`;

let app, dbs, mover, stay, rx;
before(async () => {
  rx = await receiver();
  // A one-second tenant cache, so a move's waits for every isolate can be short.
  app = await start({ shards: ["DB_1"], bindings: { TENANT_CACHE_SECONDS: "1" } });
  // The move's statements go through the D1 agent, not Miniflare's synchronous proxy.
  dbs = { DB: app.d1("DB"), DB_1: app.d1("DB_1") };
  mover = await app.createKey({ org: "Mover", plan: "pro" });
  stay = await app.createKey({ org: "Stay", plan: "pro" });
});
after(async () => {
  await app?.dispose();
  await rx?.close();
});

/** The organisation's rows, table by table, on `db` (every table that holds an organisation's
 *  data; `stored` leaves out the rollups, which a dashboard read may catch up at any time). */
async function holdings(db, org, { stored = false } = {}) {
  const out = {};
  for (const t of await orgTables(db)) {
    if (stored && ROLLUPS.includes(t.name)) continue;
    const n = (await db.prepare(`SELECT count(*) AS n FROM "${t.name}" WHERE org_id = ?`).bind(org).first()).n;
    if (n) out[t.name] = n;
  }
  return out;
}

const events = (prefix, n, extra = {}) => ({
  events: Array.from({ length: n }, (_, i) => ({
    event: i % 3 === 0 ? "auth.login_failed" : "auth.login_success",
    actor: { id: `${prefix}-${i % 7}`, email: `${prefix}${i % 7}@example.com` },
    user_ip: `203.0.113.${(i % 50) + 1}`,
    metadata: { n: i, prefix },
    ...extra,
  })),
});

const lines = (tag, n, t = Date.now() - 60_000) => ({
  streams: [{
    stream: { service: "sshd", namespace: "prod" },
    values: Array.from({ length: n }, (_, i) => [ns(t + i), `sshd: Failed password for root from 198.51.100.${(i % 20) + 1} port ${tag}${i}`]),
  }],
});

const push = (key, body) =>
  app.request("/loki/api/v1/push", { method: "POST", key, body, headers: { "content-type": "application/json" } });

/** What the API shows of an organisation: its events, alerts, destinations, suppressions, the
 *  audit log's verification and the dashboard. */
async function view(key) {
  const get = async (path) => {
    const res = await app.request(path, { key });
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const all = async (path) => {
    const out = [];
    for (let cursor = ""; ;) {
      const body = await get(`${path}${path.includes("?") ? "&" : "?"}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      out.push(...body.data);
      cursor = body.meta?.next_cursor ?? body.pagination?.next_cursor ?? "";
      if (!cursor) return out;
    }
  };
  return {
    events: (await all("/events")).map((e) => e.id).sort(),
    alerts: (await all("/alerts")).map((a) => `${a.id} ${a.status}`).sort(),
    destinations: (await get("/destinations")).data.map((d) => d.id).sort(),
    suppressions: (await get("/suppressions")).data.map((s) => s.id).sort(),
    verify: (await get("/audit/verify")).data,
    // The dashboard without the clock it was read at.
    dashboard: (({ lastUpdated, timeRange, ...rest }) => rest)(await get("/ui/mock-data")),
  };
}

test("an organisation moves to another database while it sends: nothing lost or doubled, nothing left behind", { timeout: 240_000 }, async () => {
  // Before: events (with alerts), raw lines, a destination, a suppression, an acknowledged alert.
  for (let i = 0; i < 6; i++) assert.equal((await app.collect(mover, events(`seed${i}`, 10))).status, 202);
  assert.equal((await app.collect(stay, events("stay", 10))).status, 202);
  assert.equal((await push(mover, lines("seed", 30))).status, 204);
  const hook = await app.request("/destinations", { method: "POST", key: mover, body: { name: "soc", kind: "webhook", url: `${rx.url}/soc` } });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  const quiet = await app.request("/suppressions", { method: "POST", key: mover, body: { scope: "ip", value: "192.0.2.1", reason: "scanner" } });
  assert.equal(quiet.status, 201, JSON.stringify(quiet.body));
  assert.ok(await app.eventually(async () => (await holdings(dbs.DB, MOVER)).events === 60, { timeoutMs: 20_000 }));
  const alert = await app.eventually(async () => (await app.request("/alerts", { key: mover })).body.data?.[0]);
  assert.ok(alert, "the seeded failures raised an alert");
  assert.equal((await app.request(`/alerts/${alert.id}`, { method: "PATCH", key: mover, body: { action: "acknowledge" } })).status, 200);
  const stayBefore = await holdings(dbs.DB, STAY, { stored: true });
  const before = await view(mover);

  // During: a client that keeps sending events and a shipper that keeps pushing lines (and
  // retries what it is told to), and a change tried while the data moves.
  let moving = true, accepted = 0, linesPushed = 0, refusedChange, refusedAfterSwitch;
  const retryAfters = [];
  const load = (async () => {
    for (let round = 0; moving; round++) {
      const res = await app.collect(mover, events(`load${round}`, 5));
      assert.equal(res.status, 202, JSON.stringify(res.body));
      accepted += 5;
      for (;;) {
        const pushed = await push(mover, lines(`l${round}-`, 2));
        if (pushed.status === 204) break;
        assert.equal(pushed.status, 503, JSON.stringify(pushed.body));
        retryAfters.push(pushed.headers.get("retry-after"));
        await new Promise((r) => setTimeout(r, 200));
      }
      linesPushed += 2;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  const log = [];
  await moveOrg({
    dbs, org: MOVER, to: "DB_1", settleMs: 2_500, chunk: 40,
    log: async (line) => {
      log.push(line);
      if (line.includes("copied and verified")) {
        refusedChange = await app.request(`/alerts/${alert.id}`, { method: "PATCH", key: mover, body: { action: "resolve" } });
      } else if (line.includes(`now on DB_1`)) {
        // Switched, but isolates may still hold the old database: changes wait a little longer.
        refusedAfterSwitch = await app.request(`/alerts/${alert.id}`, { method: "PATCH", key: mover, body: { action: "resolve" } });
      }
    },
  });
  moving = false;
  await load;
  assert.ok(accepted >= 20, `the client kept sending during the move (${accepted} events)`);
  assert.equal(refusedChange.status, 503, JSON.stringify(refusedChange.body));
  assert.equal(refusedChange.headers.get("retry-after"), "30");
  assert.match(refusedChange.body.error.message, /moved to another database/);
  assert.equal(refusedAfterSwitch?.status, 503, "after the switch, until every isolate has seen it");
  assert.ok(retryAfters.length > 0 && retryAfters.every((r) => r === "30"), `the shipper was told to retry: ${retryAfters}`);

  // After: every event accepted during the move arrives (parked ones after their pause) on DB_1, once.
  const stored = await app.eventually(async () => (await holdings(dbs.DB_1, MOVER)).events === 60 + accepted, { timeoutMs: 90_000, intervalMs: 500 });
  assert.ok(stored, `events on DB_1: ${(await holdings(dbs.DB_1, MOVER)).events}, expected ${60 + accepted}`);
  const distinct = await dbs.DB_1.prepare("SELECT count(DISTINCT id) AS n, count(*) AS all_ FROM events WHERE org_id = ?").bind(MOVER).first();
  assert.equal(distinct.n, distinct.all_, "no event stored twice");
  const rawLines = await dbs.DB_1.prepare("SELECT count(*) AS n FROM logs WHERE org_id = ?").bind(MOVER).first();
  assert.equal(rawLines.n, 30 + linesPushed, "every raw line pushed is stored once");
  assert.deepEqual(await holdings(dbs.DB, MOVER), {}, "nothing of the organisation is left on DB");
  assert.deepEqual(await holdings(dbs.DB, STAY, { stored: true }), stayBefore, "the organisation beside it is untouched");
  const reg = await dbs.DB.prepare("SELECT shard, moving_to FROM orgs WHERE id = ?").bind(MOVER).first();
  assert.deepEqual({ ...reg }, { shard: "DB_1", moving_to: null });

  // Its data reads the same (with what arrived during the move), and changes work again.
  const now = await view(mover);
  assert.deepEqual(now.alerts.filter((a) => before.alerts.some((b) => b.split(" ")[0] === a.split(" ")[0])), before.alerts);
  assert.deepEqual(now.destinations, before.destinations);
  assert.deepEqual(now.suppressions, before.suppressions);
  assert.equal(now.events.length, 60 + accepted);
  assert.ok(before.events.every((id) => now.events.includes(id)));
  assert.equal(now.verify.valid, true, JSON.stringify(now.verify));
  // Its rollups on DB_1 (rebuilt by the move, then caught up with what arrived) count every item.
  await rebuildRollups(dbs.DB_1, MOVER);
  assert.deepEqual((await view(mover)).dashboard, now.dashboard, "the dashboard equals one recomputed from the items");
  const resolved = await app.request(`/alerts/${alert.id}`, { method: "PATCH", key: mover, body: { action: "resolve" } });
  assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
  assert.ok(log.some((l) => l.includes("the move is complete")), log.join("\n"));
});

test("a move that stops is resumed without copying twice, and one not yet switched can be undone", { timeout: 120_000 }, async () => {
  const halt = await app.createKey({ org: "Halt", plan: "pro" });
  const undo = await app.createKey({ org: "Undo", plan: "pro" });
  const [HALT, UNDO] = [orgIdFor("Halt"), orgIdFor("Undo")];
  for (const key of [halt, undo]) {
    for (let i = 0; i < 4; i++) assert.equal((await app.collect(key, events(`r${i}`, 10))).status, 202);
    assert.equal((await push(key, lines("r", 12))).status, 204);
  }
  assert.ok(await app.eventually(async () => (await holdings(dbs.DB, HALT)).events === 40 && (await holdings(dbs.DB, UNDO)).events === 40, { timeoutMs: 20_000 }));
  const before = await holdings(dbs.DB, HALT);

  await assert.rejects(moveOrg({ dbs, org: HALT, to: "DB_1", settleMs: 1_200, chunk: 10, stopAfterChunks: 3 }), /stopped after 3 chunks/);
  const midway = await app.request("/suppressions", { method: "POST", key: halt, body: { scope: "ip", value: "192.0.2.9", reason: "x" } });
  assert.equal(midway.status, 503, "a change waits while the move is unfinished");
  assert.equal((await app.request("/events", { key: halt })).status, 200, "reads go on");
  await moveOrg({ dbs, org: HALT, to: "DB_1", settleMs: 1_200, chunk: 10 });
  const after = await holdings(dbs.DB_1, HALT);
  for (const table of ["events", "logs", "alerts", "audit_log"]) assert.equal(after[table], before[table], `${table} copied once`);
  assert.deepEqual(await holdings(dbs.DB, HALT), {});

  await assert.rejects(moveOrg({ dbs, org: UNDO, to: "DB_1", settleMs: 1_200, chunk: 10, stopAfterChunks: 2 }), /stopped/);
  await abortMove({ dbs, org: UNDO });
  assert.deepEqual(await holdings(dbs.DB_1, UNDO), {}, "the partial copy is gone");
  assert.equal((await holdings(dbs.DB, UNDO)).events, 40, "and the organisation is whole where it was");
  await new Promise((r) => setTimeout(r, 1_200)); // the tenant cache's second
  const changed = await app.request("/suppressions", { method: "POST", key: undo, body: { scope: "ip", value: "192.0.2.9", reason: "x" } });
  assert.equal(changed.status, 201, JSON.stringify(changed.body));
});

test("scripts/move-org moves an organisation between the databases wrangler.toml binds", { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "edgesoc-move-"));
  try {
    const config = join(dir, "wrangler.json");
    writeFileSync(config, JSON.stringify({
      name: "edgesoc-move-test", compatibility_date: "2026-04-20", vars: { D1_SHARDS: "DB_1" },
      d1_databases: [{ binding: "DB", database_name: "move-a", database_id: "move-a" }, { binding: "DB_1", database_name: "move-b", database_id: "move-b" }],
    }));
    const persist = join(dir, "state");
    const proxy = await getPlatformProxy({ configPath: config, persist: { path: persist }, remoteBindings: false });
    try {
      for (const binding of ["DB", "DB_1"]) {
        const db = proxy.env[binding];
        for (const file of readdirSync(join(ROOT, "migrations")).sort()) {
          for (const sql of migrationStatements(readFileSync(join(ROOT, "migrations", file), "utf8"))) await db.prepare(sql).run();
        }
      }
      await proxy.env.DB.batch([
        proxy.env.DB.prepare("INSERT INTO orgs (id, name, plan, created_at) VALUES ('org_cli', 'Cli', 'pro', 0)"),
        ...Array.from({ length: 25 }, (_, i) => proxy.env.DB.prepare(
          "INSERT INTO events (id, org_id, event_name, category, severity, instant_alert, metadata, created_at) VALUES (?, 'org_cli', 'auth.login_success', 'auth', 'info', 0, '{}', ?)",
        ).bind(`00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, Date.now() - i * 1000)),
      ]);
    } finally {
      await proxy.dispose();
    }
    const run = promisify(execFile);
    await assert.rejects(
      run(join(ROOT, "scripts/move-org"), ["--org", "Cli", "--to", "DB_2", "--config", config, "--persist-to", persist], { cwd: ROOT }),
      (e) => e.code === 2 && /DB_2 is not DB or one of D1_SHARDS/.test(e.stderr),
      "a database the Worker does not serve is refused",
    );
    const { stderr } = await run(join(ROOT, "scripts/move-org"), ["--org", "Cli", "--to", "DB_1", "--config", config, "--persist-to", persist, "--settle", "0", "--chunk", "10"], { cwd: ROOT });
    assert.match(stderr, /the move is complete/);
    const check = await getPlatformProxy({ configPath: config, persist: { path: persist }, remoteBindings: false });
    try {
      const count = async (db) => (await db.prepare("SELECT count(*) AS n FROM events WHERE org_id = 'org_cli'").first()).n;
      assert.equal(await count(check.env.DB_1), 25);
      assert.equal(await count(check.env.DB), 0);
      assert.equal((await check.env.DB.prepare("SELECT shard FROM orgs WHERE id = 'org_cli'").first()).shard, "DB_1");
    } finally {
      await check.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
