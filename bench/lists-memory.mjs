// Memory and load time of the network lists in the Worker's isolate (workerd through
// Miniflare), read through workerd's inspector: the WebAssembly memory (the module's one
// Memory, which never shrinks, so its size is the isolate's high-water mark) and the JS heap.
//
// Scenarios (lists generated here, deterministically; nothing is downloaded):
//   caps       all eight lists at the largest the refresh accepts: 250,000 IPv4 addresses that do
//              not merge in each address list, 250,000 ASNs in each ASN list
//   caps-ipv6  the same, the address lists as 250,000 full-length IPv6 addresses each (the
//              longest stored text; they merge into 62,500 ranges, inside the memory budget)
//   realistic  sizes of the public defaults: Tor ~1,500 addresses, X4BNet datacenter ~60,000
//              IPv4 + 5,000 IPv6 CIDRs and ~1,500 ASNs, X4BNet VPN ~10,000 CIDRs and ~300 ASNs,
//              FireHOL proxies ~10,000 addresses
// For each: instance A runs the refresh (so its isolate shows what the refresh costs); then a
// fresh instance B, given the rows A stored, is a consumer that did not run it: a warm-up queue batch that
// needs no lists, then batches that enrich (the first loads the lists: its extra time over the
// next ones is the load time); then B runs a refresh in which every list changed (the hourly
// change, in the same isolate) and enriches again.
//
// Usage: node bench/lists-memory.mjs [--scenarios caps,caps-ipv6,realistic] [--port 9340]
// Writes bench/results/lists-memory.json (read by bench/report.mjs). Build first
// (scripts/build --release, as scripts/bench does).
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import WebSocket from "ws";

export const MB = 1024 * 1024;
const REFRESH = "41 * * * *";
const MAX_SOURCE_BYTES = 4 * MB;

/** A small deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const v4 = (n) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const hex = (n) => n.toString(16);

/** `n` IPv4 addresses 2 apart from `base` (none adjacent, so none merge). */
function spacedV4(n, base) {
  const lines = new Array(n);
  for (let i = 0; i < n; i++) lines[i] = v4((base + 2 * i) >>> 0);
  return lines;
}

/** `n` full-length IPv6 addresses in runs of 4 consecutive ones (n / 4 ranges). */
function longV6(n, tag) {
  const lines = new Array(n);
  for (let i = 0; i < n; i++) {
    const run = i >> 2;
    lines[i] = `2a0${tag}:bd80:ffff:eeee:dddd:${hex(0x1000 + (run >> 12))}:${hex(0x1000 + (run & 0xfff))}:${hex(0xa000 + (i & 3))}`;
  }
  return lines;
}

/** `n` random CIDRs with prefixes between `lo` and `hi` in the IPv4 space. */
function randomV4Cidrs(n, lo, hi, r) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = lo + Math.floor(r() * (hi - lo + 1));
    const addr = (Math.floor(r() * 0xdf000000) + 0x01000000) >>> 0;
    const net = len === 32 ? addr : (addr & ~((1 << (32 - len)) - 1)) >>> 0;
    out.push(len === 32 ? v4(net) : `${v4(net)}/${len}`);
  }
  return out;
}

/** `n` random IPv6 CIDRs between /29 and /48 (the Worker clears host bits). */
function randomV6Cidrs(n, r) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = [29, 32, 36, 40, 44, 48][Math.floor(r() * 6)];
    const groups = [0x2000 + Math.floor(r() * 0xfff), Math.floor(r() * 0xffff), Math.floor(r() * 0xffff)];
    out.push(`${groups.map(hex).join(":")}::/${len}`);
  }
  return out;
}

const asns = (n, from) => Array.from({ length: n }, (_, i) => `AS${from + i}`);

/** The served bodies of every list: { list: [body, …] } (bodies under the 4 MiB cap). */
export function listsFor(scenario, round = 0) {
  const r = rng(1000 + round);
  const split = (lines, header = "") => {
    const bodies = [];
    let cur = [];
    let size = header.length;
    for (const l of lines) {
      if (size + l.length + 1 > MAX_SOURCE_BYTES - 1024) {
        bodies.push(header + cur.join("\n") + "\n");
        [cur, size] = [[], header.length];
      }
      cur.push(l);
      size += l.length + 1;
    }
    bodies.push(header + cur.join("\n") + "\n");
    return bodies;
  };
  // A later round shifts every list by one address or ASN: every list changes.
  if (scenario === "caps" || scenario === "caps-ipv6") {
    const N = 250_000;
    const lists = {};
    ["tor_exits", "datacenter_cidrs", "vpn_cidrs", "proxy_cidrs", "relay_cidrs"].forEach((name, k) => {
      lists[name] = split(scenario === "caps" ? spacedV4(N, ((20 + 20 * k) << 24) + round) : longV6(N + round * 4, k + 1).slice(round * 4));
    });
    ["datacenter_asns", "vpn_asns", "relay_asns"].forEach((name, k) => {
      lists[name] = split(asns(N, 1 + k * 1_000_000 + round));
    });
    return lists;
  }
  if (scenario === "realistic") {
    return {
      tor_exits: split(spacedV4(1_500, (185 << 24) + (220 << 16) + round).map((a, i) => (i % 2 ? a : v4((0x5d000000 + i * 977 + round) >>> 0))), "# Tor bulk exit list\n"),
      datacenter_cidrs: [...split(randomV4Cidrs(60_000, 16, 32, r)), ...split(randomV6Cidrs(5_000, r))],
      datacenter_asns: split(asns(1_500, 10_000 + round)),
      vpn_cidrs: [...split(randomV4Cidrs(10_000, 20, 32, r)), ...split(randomV6Cidrs(1_000, r))],
      vpn_asns: split(asns(300, 200_000 + round)),
      proxy_cidrs: split(randomV4Cidrs(10_000, 32, 32, r), "#\n# firehol_proxies\n#\n"),
    };
  }
  throw new Error(`unknown scenario ${scenario}`);
}

/** A local server for list bodies; `serve(lists)` replaces what it serves. */
export async function listServer() {
  let routes = new Map();
  const server = createServer((req, res) => {
    const body = routes.get(req.url);
    // A new connection per request: workerd must not reuse one that Node's keep-alive timer
    // (5 s, shorter than a slow refresh takes between two fetches) is closing.
    res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/plain", connection: "close" });
    res.end(body ?? "not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    /** Serves `lists` and returns the NETWORK_LIST_SOURCES value naming them. */
    serve(lists) {
      routes = new Map();
      const sources = {};
      for (const [name, bodies] of Object.entries(lists)) {
        sources[name] = bodies.map((b, i) => {
          routes.set(`/${name}/${i}`, b);
          return `${base}/${name}/${i}`;
        });
      }
      return JSON.stringify(sources);
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The Worker's isolate through workerd's inspector (the harness opens it when
 *  EDGESOC_INSPECTOR is set): `memory()` is {wasm, heapUsed, heapAfterGc, heapTotal} in
 *  bytes. (workerd does not answer HeapProfiler.collectGarbage.) */
export async function inspect(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => /core:user:/.test(t.title ?? ""));
  if (!target) throw new Error(`no user worker among ${targets.map((t) => t.title).join(", ")}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  let context;
  const pending = new Map();
  ws.on("message", (m) => {
    const d = JSON.parse(m);
    if (d.method === "Runtime.executionContextCreated") context = d.params.context.id;
    if (d.id === undefined) return;
    const p = pending.get(d.id);
    pending.delete(d.id);
    if (d.error) p?.reject(new Error(`${d.error.message} (${d.error.code})`));
    else p?.resolve(d.result);
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      pending.set(++id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send("Runtime.enable");
  return {
    /** `heapUsed` as found; `heapAfterGc` after the full garbage collection that V8's
     *  queryObjects (used to find the Memory) runs first. */
    async memory() {
      const heap = await send("Runtime.getHeapUsage");
      // The module's memory: every WebAssembly.Memory in the isolate (there is one).
      const proto = await send("Runtime.evaluate", { expression: "WebAssembly.Memory.prototype", contextId: context });
      const found = await send("Runtime.queryObjects", { prototypeObjectId: proto.result.objectId });
      const sizes = await send("Runtime.callFunctionOn", {
        objectId: found.objects.objectId,
        functionDeclaration: "function () { return this.map((m) => m.buffer.byteLength); }",
        returnByValue: true,
      });
      await send("Runtime.releaseObject", { objectId: found.objects.objectId });
      await send("Runtime.releaseObject", { objectId: proto.result.objectId });
      const after = await send("Runtime.getHeapUsage");
      const wasm = sizes.result.value.reduce((a, b) => a + b, 0);
      return { wasm, heapUsed: heap.usedSize, heapAfterGc: after.usedSize, heapTotal: Math.max(heap.totalSize, after.totalSize) };
    },
    /** Samples the JS heap every `ms` until the returned function is called, which gives
     *  the largest `usedSize` and `totalSize` seen (the isolate answers between its tasks, so
     *  this is a lower bound of the true peak). */
    watch(ms = 10) {
      let used = 0, total = 0, busy = false;
      const timer = setInterval(async () => {
        if (busy) return;
        busy = true;
        try {
          const h = await send("Runtime.getHeapUsage");
          used = Math.max(used, h.usedSize);
          total = Math.max(total, h.totalSize);
        } catch {}
        busy = false;
      }, ms);
      return async () => {
        clearInterval(timer);
        const h = await send("Runtime.getHeapUsage");
        return { heapUsedPeak: Math.max(used, h.usedSize), heapTotalPeak: Math.max(total, h.totalSize) };
      };
    },
    close: () => ws.close(),
  };
}

/** A v2 queue message (not yet enriched) for one event from a public address: the consumer
 *  loads the lists to enrich it. */
export function message(ip) {
  const event = {
    id: randomUUID(), org_id: "org_lists_bench", event_name: "auth.login_failed", category: "auth", severity: "medium",
    instant_alert: false, actor_id: "u1", actor_email: null, user_ip: ip, server_ip: null, country_code: null, city: null,
    latitude: null, longitude: null, is_vpn: null, is_tor: null, is_proxy: null, is_datacenter: null, threat_score: null,
    forensics: null, metadata: {}, created_at: Date.now(),
  };
  return { id: randomUUID(), timestamp: new Date(), attempts: 1, body: JSON.stringify({ v: 2, plan: "pro", cf: null, events: [event] }) };
}

/** A v1 message (already enriched): the consumer does not load the lists for it. */
export function enrichedMessage() {
  const m = JSON.parse(message("198.51.100.1").body).events[0];
  return { id: randomUUID(), timestamp: new Date(), attempts: 1, body: JSON.stringify({ v: 1, event: m }) };
}

async function timed(fn) {
  const t0 = performance.now();
  const out = await fn();
  return [performance.now() - t0, out];
}

/** One scenario as described at the top. `start` is the e2e harness's. */
export async function measure(start, scenario, { port = 9340, probeIp = "20.0.0.2", log = () => {} } = {}) {
  const srv = await listServer();
  const previous = process.env.EDGESOC_INSPECTOR;
  process.env.EDGESOC_INSPECTOR = String(port);
  const out = { scenario };
  try {
    const sources = srv.serve(listsFor(scenario, 0));
    // A: the refresh.
    let app = await start({ bindings: { NETWORK_LIST_SOURCES: sources }, shards: [] });
    let stored;
    let probe = await inspect(port);
    try {
      out.idle = await probe.memory();
      let stop = probe.watch();
      const [ms, res] = await timed(() => app.scheduled(Date.now(), REFRESH));
      if (res.outcome !== "ok") throw new Error(`refresh: ${res.outcome}`);
      out.refresh_ms = ms;
      out.after_refresh = { ...(await probe.memory()), ...(await stop()) };
      out.stored = (await app.db.prepare("SELECT list, entries, last_error FROM network_lists ORDER BY list").all()).results;
      stored = await copyLists(app);
      log(`${scenario}: read ${out.stored.length} stored lists`);
      log(`${scenario}: refresh ${ms.toFixed(0)} ms, ${JSON.stringify(out.after_refresh)}`);
    } finally {
      probe.close();
      await app.dispose();
    }
    // B: a consumer that did not run the refresh. Its log says what the lists in force hold.
    const held = [];
    const runtimeStdio = (stdout, stderr) => {
      for (const stream of [stdout, stderr]) {
        stream.on("data", (chunk) => {
          for (const m of String(chunk).matchAll(/the lists in force hold (\d+) bytes/g)) held.push(Number(m[1]));
        });
      }
    };
    app = await start({ bindings: { NETWORK_LIST_SOURCES: srv.serve(listsFor(scenario, 1)) }, runtimeStdio, shards: [] });
    probe = await inspect(port);
    try {
      await stored(app);
      log(`${scenario}: consumer started`);
      await app.queue([enrichedMessage()]);
      out.consumer_idle = await probe.memory();
      let stop = probe.watch();
      const [first] = await timed(() => app.queue([message(probeIp)]));
      out.after_load = { ...(await probe.memory()), ...(await stop()) };
      const steady = [];
      for (let i = 0; i < 3; i++) steady.push((await timed(() => app.queue([message(probeIp)])))[0]);
      const base = steady.sort((a, b) => a - b)[1];
      out.lists_bytes = held.at(-1) ?? null; // null: an older build that does not log it
      out.first_batch_ms = first;
      out.steady_batch_ms = base;
      out.load_ms = Math.max(0, first - base);
      log(`${scenario}: first batch ${first.toFixed(0)} ms, steady ${base.toFixed(0)} ms, ${JSON.stringify(out.after_load)}`);
      // The hourly change, refreshed in this isolate, then the next batch reloads every list.
      stop = probe.watch();
      const [rms, res] = await timed(() => app.scheduled(Date.now(), REFRESH));
      if (res.outcome !== "ok") throw new Error(`refresh: ${res.outcome}`);
      out.change_refresh_ms = rms;
      out.changed = (await app.db.prepare("SELECT list, entries, last_error FROM network_lists ORDER BY list").all()).results;
      const [reload] = await timed(() => app.queue([message(probeIp)]));
      out.reload_ms = Math.max(0, reload - base);
      out.after_change = { ...(await probe.memory()), ...(await stop()) };
      log(`${scenario}: change refresh ${rms.toFixed(0)} ms, reload batch ${reload.toFixed(0)} ms, ${JSON.stringify(out.after_change)}`);
    } finally {
      probe.close();
      await app.dispose();
    }
  } finally {
    if (previous === undefined) delete process.env.EDGESOC_INSPECTOR;
    else process.env.EDGESOC_INSPECTOR = previous;
    await srv.close();
  }
  return out;
}

/** Reads what the refresh stored in `app`'s D1; the returned function writes it into another
 *  instance's D1 (as if another isolate had run the refresh). */
export async function copyLists(app) {
  const rows = (await app.db.prepare("SELECT * FROM network_lists").all()).results;
  const chunks = [];
  for (const { list, chunks: n } of rows) {
    for (let seq = 0; seq < (n ?? 0); seq++) {
      chunks.push(await app.db.prepare("SELECT list, seq, body FROM network_list_chunks WHERE list = ? AND seq = ?").bind(list, seq).first());
    }
  }
  return async (other) => {
    for (const r of rows) {
      const cols = Object.keys(r);
      await other.db.prepare(`INSERT INTO network_lists (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`).bind(...cols.map((c) => r[c])).run();
    }
    for (const c of chunks) {
      await other.db.prepare("INSERT INTO network_list_chunks (list, seq, body) VALUES (?, ?, ?)").bind(c.list, c.seq, c.body).run();
    }
  };
}

async function main() {
  const { values } = parseArgs({ options: { scenarios: { type: "string", default: "realistic,caps,caps-ipv6" }, port: { type: "string", default: "9340" }, out: { type: "string" } } });
  const { start } = await import("../tests/e2e/harness.mjs");
  const results = { measured: new Date().toISOString().slice(0, 10), scenarios: {} };
  for (const s of values.scenarios.split(",")) {
    results.scenarios[s] = await measure(start, s, { port: Number(values.port), log: (l) => console.error(l) });
  }
  const file = values.out ?? new URL("./results/lists-memory.json", import.meta.url).pathname;
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(JSON.stringify(results, null, 2));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
