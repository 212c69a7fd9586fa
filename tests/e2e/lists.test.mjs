// Network lists: the hourly cron refresh ("41 * * * *") from the sources in
// NETWORK_LIST_SOURCES, the shipped defaults when nothing is stored, and the guards that keep
// the list in force when a download fails, is garbage, is too large (in bytes, entries or
// memory) or shrinks to almost nothing. (Memory at the caps: lists-memory.test.mjs.) The sources are served by a local HTTP server on 127.0.0.1: no test traffic leaves
// the machine (every test that runs the refresh names its sources).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { start } from "./harness.mjs";

const REFRESH = "41 * * * *";
const PURGE = "17 3 * * *";
const SWEEP = "*/5 * * * *";
const SHIPPED_TOR = "185.220.101.42"; // in the shipped 185.220.100.0/22
const NEW_EXIT = "203.0.113.77";

/** A local list server. `set(path, {status, body, hang, chunked})`; `hits` counts requests. */
async function listServer() {
  const routes = new Map();
  const sockets = new Set();
  const server = createServer((req, res) => {
    server.hits += 1;
    const r = routes.get(req.url);
    if (!r) {
      res.writeHead(404, { "content-type": "text/plain" });
      return res.end("not found");
    }
    if (r.hang) return; // never answers
    const body = typeof r.body === "function" ? r.body() : r.body;
    if (r.chunked) {
      // No Content-Length: the Worker must stop reading at its cap by itself.
      res.writeHead(r.status ?? 200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
      const buf = Buffer.from(body);
      for (let i = 0; i < buf.length; i += 64 * 1024) res.write(buf.subarray(i, i + 64 * 1024));
      return res.end();
    }
    res.writeHead(r.status ?? 200, { "content-type": r.type ?? "text/plain" });
    res.end(body);
  });
  server.hits = 0;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: (path) => base + path,
    set: (path, route) => routes.set(path, route),
    get hits() {
      return server.hits;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** `n` distinct addresses in 100.x (public outside 100.64/10: 100.0–100.63), one per line. */
function exits(n, extra = []) {
  const lines = [...extra];
  for (let i = 0; lines.length < n; i++) lines.push(`100.${Math.floor(i / 65536) % 64}.${Math.floor(i / 256) % 256}.${i % 256}`);
  return `# Tor bulk exit list (test)\n${lines.join("\n")}\n`;
}

/** `n` IPv6 addresses two apart (none adjacent, so none merge), one per line. */
function spacedV6(n) {
  const lines = [];
  for (let i = 0; i < n; i++) lines.push(`2001:db8::${(i >> 8).toString(16)}:${((i & 0xff) * 2).toString(16)}`);
  return `${lines.join("\n")}\n`;
}

/** Collects one login from `ip` and returns the event as GET /events/:id shows it. */
async function flagsOf(app, key, ip) {
  const res = await app.collect(key, { event: "auth.login_success", actor: `a-${ip}`, user_ip: ip });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body.event_ids[0];
  const got = await app.eventually(async () => {
    const r = await app.request(`/events/${id}`, { key });
    return r.status === 200 ? r.body.data : null;
  });
  assert.ok(got, `event ${id} stored`);
  return got;
}

async function listRow(app, list) {
  return app.db.prepare("SELECT * FROM network_lists WHERE list = ?").bind(list).first();
}

async function refresh(app) {
  const res = await app.scheduled(Date.now(), REFRESH);
  assert.equal(res.outcome, "ok");
}

describe("shipped defaults", () => {
  let app, key, srv;
  before(async () => {
    srv = await listServer();
    srv.set("/tor", { body: exits(10, [NEW_EXIT]) });
    app = await start({ bindings: { NETWORK_LIST_SOURCES: "{}" } });
    key = await app.createKey({ org: "Shipped" });
  });
  after(async () => {
    await app.dispose();
    await srv.close();
  });

  test("with nothing stored the shipped lists apply; {} disables the refresh", async () => {
    assert.equal((await flagsOf(app, key, SHIPPED_TOR)).is_tor, true);
    assert.equal((await flagsOf(app, key, NEW_EXIT)).is_tor, false);
    const dc = await flagsOf(app, key, "5.9.10.11"); // shipped Hetzner 5.9.0.0/16
    assert.deepEqual([dc.is_datacenter, dc.is_tor, dc.is_vpn, dc.is_proxy], [true, false, false, false]);
    await refresh(app);
    assert.equal(await app.count("SELECT count(*) FROM network_lists"), 0);
    assert.equal(await app.count("SELECT count(*) FROM network_list_chunks"), 0);
    assert.equal(srv.hits, 0, "no source was fetched");
    assert.equal((await flagsOf(app, key, SHIPPED_TOR)).is_tor, true);
  });
});

describe("refresh", () => {
  let app, key, srv;
  before(async () => {
    srv = await listServer();
    app = await start({
      bindings: {
        NETWORK_LIST_SOURCES: JSON.stringify({
          tor_exits: srv.url("/tor"),
          datacenter_cidrs: [srv.url("/dc.txt"), srv.url("/ip-ranges.json")],
          vpn_asns: srv.url("/vpn-asns"),
          proxy_cidrs: srv.url("/missing"),
        }),
        NETWORK_LIST_TIMEOUT_MS: "500",
      },
    });
    key = await app.createKey({ org: "Refreshed" });
  });
  after(async () => {
    await app.dispose();
    await srv.close();
  });

  test("the crons in wrangler.toml are the purge, the refresh and the agent sweep; the purge and the sweep fetch nothing", async () => {
    const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
    const crons = JSON.parse(toml.match(/^crons\s*=\s*(\[[^\]]*\])/m)[1]);
    assert.deepEqual(crons.sort(), [PURGE, REFRESH, SWEEP].sort());
    srv.set("/tor", { body: exits(10, [NEW_EXIT]) });
    for (const cron of [PURGE, SWEEP]) {
      const res = await app.scheduled(Date.now(), cron);
      assert.equal(res.outcome, "ok", cron);
    }
    assert.equal(srv.hits, 0);
    assert.equal(await app.count("SELECT count(*) FROM network_lists"), 0);
  });

  test("an address newly on the served Tor list is flagged on the next event; lists refresh independently", async () => {
    // Before any refresh: the shipped lists (and this isolate caches them).
    assert.equal((await flagsOf(app, key, NEW_EXIT)).is_tor, false);
    assert.equal((await flagsOf(app, key, SHIPPED_TOR)).is_tor, true);

    // 40,000 exits: over 256 KiB, so the stored text spans several chunks.
    srv.set("/tor", { body: exits(40_000, [NEW_EXIT]) });
    srv.set("/dc.txt", { body: "# datacenter ipv4\n192.0.2.0/24\n" });
    srv.set("/ip-ranges.json", {
      type: "application/json",
      body: JSON.stringify({
        syncToken: "1",
        prefixes: [{ ip_prefix: "198.51.100.0/25", region: "eu-west-1", service: "AMAZON" }],
        ipv6_prefixes: [{ ipv6_prefix: "2001:db8:aa::/48", region: "eu-west-1", service: "AMAZON" }],
      }),
    });
    srv.set("/vpn-asns", { body: "AS64500 # example VPN host\n" });
    const before = Date.now();
    await refresh(app);

    const tor = await listRow(app, "tor_exits");
    assert.equal(tor.entries, 40_000);
    assert.equal(tor.source, srv.url("/tor"));
    assert.equal(tor.last_error, null);
    assert.ok(tor.fetched_at >= before && tor.checked_at === tor.fetched_at);
    assert.ok(tor.chunks >= 2, `chunks: ${tor.chunks}`);
    assert.equal(await app.count("SELECT count(*) FROM network_list_chunks WHERE list = 'tor_exits'"), tor.chunks);
    const dc = await listRow(app, "datacenter_cidrs");
    assert.deepEqual([dc.entries, dc.last_error, dc.source], [3, null, `${srv.url("/dc.txt")} ${srv.url("/ip-ranges.json")}`]);
    const proxy = await listRow(app, "proxy_cidrs");
    assert.deepEqual([proxy.fetched_at, proxy.entries, proxy.last_error], [null, 0, `${srv.url("/missing")}: HTTP 404`]);

    // The refresh invalidated this isolate's cached lists: the very next event sees them.
    const flagged = await flagsOf(app, key, NEW_EXIT);
    assert.equal(flagged.is_tor, true);
    assert.equal(flagged.forensics.network.is_tor, true);
    assert.equal((await flagsOf(app, key, "100.0.99.99")).is_tor, true, "an exit from the last chunk");
    assert.equal((await flagsOf(app, key, SHIPPED_TOR)).is_tor, false, "the served list replaced the shipped one");
    assert.equal((await flagsOf(app, key, "198.51.100.9")).is_datacenter, true, "from the JSON feed");
    assert.equal((await flagsOf(app, key, "2001:db8:aa::5")).is_datacenter, true, "IPv6 from the JSON feed");
    assert.equal((await flagsOf(app, key, "192.0.2.9")).is_datacenter, true, "from the text list");
    assert.equal((await flagsOf(app, key, "5.9.10.11")).is_datacenter, false, "shipped CIDRs replaced");
  });

  test("a failing, garbage, oversized, empty or almost-empty download keeps the list in force and records why", async () => {
    // 5,000 exits: at least 10% of the 40,000 stored before, so accepted.
    srv.set("/tor", { body: exits(5_000, [NEW_EXIT]) });
    await refresh(app);
    const good = await listRow(app, "tor_exits");
    assert.deepEqual([good.entries, good.last_error], [5_000, null]);

    const vpnBefore = await listRow(app, "vpn_asns");
    const cases = [
      [{ status: 500, body: "Internal Server Error" }, /: HTTP 500$/],
      [{ body: "<!DOCTYPE html>\n<html><body>Rate limited</body></html>\n" }, /2 invalid lines; refused \(first: line 1: not an IP address or CIDR: "<!DOCTYPE"/],
      [{ body: `${NEW_EXIT}\n0.0.0.0/0\n` }, /line 2: prefix broader than \/8/],
      [{ body: "# Tor exit list is being regenerated\n" }, /^no entries; an empty list is refused$/],
      [{ body: exits(499, [NEW_EXIT]) }, /^499 entries, under 10% of the 5000 in the stored list; refused$/],
      [{ chunked: true, body: () => exits(1_000).padEnd(4 * 1024 * 1024 + 1, "#") }, /body over 4194304 bytes; refused$/],
      // Over the memory budget: 70,000 IPv6 addresses that do not merge need 70,000 ranges of
      // 32 bytes, over 2 MiB (MAX_LIST_BYTES).
      [{ body: spacedV6(70_000) }, /^70000 entries need 2240000 bytes in memory as merged ranges, over the 2097152-byte budget per list; refused$/],
      [{ hang: true }, /timed out after 500 ms$/],
    ];
    for (const [route, why] of cases) {
      srv.set("/tor", route);
      const checkedBefore = (await listRow(app, "tor_exits")).checked_at;
      await refresh(app);
      const row = await listRow(app, "tor_exits");
      assert.match(row.last_error ?? "", why, JSON.stringify(route).slice(0, 80));
      assert.deepEqual([row.entries, row.fetched_at, row.chunks], [good.entries, good.fetched_at, good.chunks], "stored list untouched");
      assert.ok(row.checked_at >= checkedBefore);
      assert.equal((await flagsOf(app, key, NEW_EXIT)).is_tor, true, `still flagged after ${why}`);
    }
    // The other lists were checked independently all along; served unchanged, they were not
    // rewritten (fetched_at stays, checked_at moves).
    const vpn = await listRow(app, "vpn_asns");
    assert.equal(vpn.last_error, null);
    assert.equal(vpn.fetched_at, vpnBefore.fetched_at);
    assert.ok(vpn.checked_at > vpnBefore.checked_at);
    assert.equal((await flagsOf(app, key, "203.0.113.5")).is_tor, false);

    // A good list again: stored, and the error cleared.
    srv.set("/tor", { body: exits(500, ["203.0.113.5"]) });
    await refresh(app);
    const row = await listRow(app, "tor_exits");
    assert.deepEqual([row.entries, row.last_error], [500, null]);
    assert.equal((await flagsOf(app, key, "203.0.113.5")).is_tor, true);
    assert.equal((await flagsOf(app, key, NEW_EXIT)).is_tor, false);
  });
});
