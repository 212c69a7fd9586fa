// Memory of the network lists in the Worker's isolate, through the real runtime (workerd via
// Miniflare) at the largest lists the refresh accepts: all eight lists at 250,000 entries (the
// address lists as IPv4 addresses that do not merge, 2,000,000 bytes each as ranges). One
// isolate runs the refresh, loads the lists for a queue batch, and then twice more refreshes
// every list changed and reloads them: the worst case, where the cron and the consumer share
// the isolate. Measured through workerd's inspector (bench/lists-memory.mjs, which
// BENCHMARKS.md's figures come from): the WebAssembly memory, which never shrinks, so it is the
// isolate's high-water mark, and the JavaScript heap. Cloudflare stops an isolate at 128 MB.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { inspect, listServer, listsFor, message, MB } from "../../bench/lists-memory.mjs";
import { start } from "./harness.mjs";

const REFRESH = "41 * * * *";
const ENTRIES = 250_000;
// The lists' own budget is 16 MiB (8 × MAX_LIST_BYTES); the rest is the refresh's and a
// reload's working memory and the Worker itself.
const MAX_WASM = 48 * MB;
// Live JS objects after a full GC; and what V8 holds, garbage included, beside the wasm memory.
const MAX_LIVE_HEAP = 8 * MB;
const MAX_TOTAL = 96 * MB;

async function freePort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe("network lists at the caps", () => {
  let app, srv, probe, previous;
  const seen = [];
  before(async () => {
    srv = await listServer();
    const port = await freePort();
    previous = process.env.EDGESOC_INSPECTOR;
    process.env.EDGESOC_INSPECTOR = String(port);
    app = await start({ bindings: { NETWORK_LIST_SOURCES: srv.serve(listsFor("caps", 0)), NETWORK_LIST_TIMEOUT_MS: "60000" } });
    probe = await inspect(port);
  });
  after(async () => {
    probe?.close();
    await app?.dispose();
    await srv?.close();
    if (previous === undefined) delete process.env.EDGESOC_INSPECTOR;
    else process.env.EDGESOC_INSPECTOR = previous;
    if (seen.length) console.error(`isolate memory (MiB): ${seen.map((m) => `${m.step} wasm ${(m.wasm / MB).toFixed(1)}, heap ${(m.heapTotal / MB).toFixed(1)} (live ${(m.heapAfterGc / MB).toFixed(1)})`).join("; ")}`);
  });

  /** Enriches one event from `ip` through the queue consumer; returns its stored flags. */
  async function enrich(ip) {
    const msg = message(ip);
    const res = await app.queue([msg]);
    assert.equal(res.outcome, "ok");
    const id = JSON.parse(msg.body).events[0].id;
    return app.db.prepare("SELECT is_tor, is_vpn, is_proxy, is_datacenter FROM events WHERE id = ?").bind(id).first();
  }

  async function measure(step) {
    const m = { step, ...(await probe.memory()) };
    seen.push(m);
    assert.ok(m.wasm < MAX_WASM, `${step}: WebAssembly memory ${(m.wasm / MB).toFixed(1)} MB`);
    assert.ok(m.heapAfterGc < MAX_LIVE_HEAP, `${step}: live JS heap ${(m.heapAfterGc / MB).toFixed(1)} MB`);
    assert.ok(m.wasm + m.heapTotal < MAX_TOTAL, `${step}: wasm + JS heap ${((m.wasm + m.heapTotal) / MB).toFixed(1)} MB`);
    return m;
  }

  test("the isolate stays inside its memory budget at the caps, and a reload after a change does not grow it", { timeout: 300_000 }, async () => {
    const idle = await measure("idle");
    const res = await app.scheduled(Date.now(), REFRESH);
    assert.equal(res.outcome, "ok");
    const rows = (await app.db.prepare("SELECT list, entries, last_error FROM network_lists ORDER BY list").all()).results;
    assert.deepEqual(rows.map((r) => [r.list, r.entries, r.last_error]), [
      "datacenter_asns", "datacenter_cidrs", "proxy_cidrs", "relay_asns", "relay_cidrs", "tor_exits", "vpn_asns", "vpn_cidrs",
    ].map((l) => [l, ENTRIES, null]));
    await measure("after the refresh");

    // tor_exits is 250,000 addresses from 20.0.0.0, two apart; proxy_cidrs from 80.0.0.0.
    const first = await enrich("20.0.0.2");
    assert.equal(first.is_tor, 1);
    assert.equal((await enrich("20.7.161.30")).is_tor, 1, "the last Tor entry");
    assert.equal((await enrich("20.0.0.3")).is_tor, 0, "between two entries");
    assert.equal((await enrich("80.0.0.0")).is_proxy, 1);
    const loaded = await measure("lists loaded");
    assert.ok(loaded.wasm > idle.wasm + 13_000_000, "the lists are in memory (13,000,000 bytes of ranges)");

    // Every list changes (shifted by one address or ASN): refreshed and reloaded, twice.
    const after = [];
    for (const round of [1, 2]) {
      srv.serve(listsFor("caps", round)); // the same URLs, new bodies
      const r = await app.scheduled(Date.now(), REFRESH);
      assert.equal(r.outcome, "ok");
      assert.equal(await app.count("SELECT count(*) FROM network_lists WHERE last_error IS NULL AND entries = ?", ENTRIES), 8);
      const flags = await enrich(round === 1 ? "20.0.0.3" : "20.0.0.4");
      assert.equal(flags.is_tor, 1, `round ${round}: the changed Tor list is in force`);
      assert.equal((await enrich(round === 1 ? "20.0.0.2" : "20.0.0.3")).is_tor, 0, `round ${round}: the old Tor list is gone`);
      after.push(await measure(`after change ${round}`));
    }
    // A second change costs no more than the first: the old lists are not kept beside the new.
    assert.ok(after[1].wasm <= after[0].wasm + 4 * MB, `wasm grew from ${after[0].wasm} to ${after[1].wasm}`);
  });
});
