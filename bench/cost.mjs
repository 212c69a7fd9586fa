// What an event costs in the units Cloudflare bills, measured on the code as it is: a generated
// realistic day (bench/day.mjs) replayed through the built Worker in workerd with the D1 cost
// meter on (EDGESOC_D1_METER=1, src/meter.rs), once with one event per POST /collect and once
// with 100-event batches, each in a fresh instance (bench/meter.mjs: Loki pushes, events, the
// queue drained, reads, the purge). D1 rows written and read come from the meter's lines; bytes
// from the SQLite file Miniflare persists (dbstat, read with python3's sqlite3); $ from
// Cloudflare's published Workers Paid prices (PRICES below). Writes bench/results/cost.json.
// Usage: node bench/cost.mjs [--orgs 3] [--users 40] [--seed 18]
//        node bench/cost.mjs --reprice   recomputes the $ of bench/results/cost.json with today's
//                                        PRICES and ASSUME, keeping its measured units (no replay)
// Load goes to the local instance only: about 1,300 requests per mode at the default size.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { day } from "./day.mjs";
import { cpuMs, instance, workerdPids } from "./lib.mjs";
import { linesEnd, meterLog, replay, rowsWritten } from "./meter.mjs";

const { values } = parseArgs({ options: {
  orgs: { type: "string", default: "3" }, users: { type: "string", default: "40" }, seed: { type: "string", default: "18" },
  reprice: { type: "boolean", default: false },
} });
const size = { orgs: Number(values.orgs), users: Number(values.users), seed: Number(values.seed) };

// Workers Paid prices as published (read 2026-12-06; [bracketed] words are the tables' headings,
// the rest is quoted). `included` is per month; prices are $ per million units unless named.
export const PRICES = {
  read: "2026-12-06",
  workers: {
    url: "https://developers.cloudflare.com/workers/platform/pricing/",
    quote: "[Requests, Standard] 10 million included per month +$0.30 per additional million; [CPU time] 30 million CPU milliseconds included per month +$0.02 per additional million CPU milliseconds; [the Workers Paid plan:] a minimum charge of $5 USD per month for an account",
    requests: { included: 10e6, per_million: 0.30 },
    cpu_ms: { included: 30e6, per_million: 0.02 },
    subscription_per_month: 5,
  },
  d1: {
    url: "https://developers.cloudflare.com/d1/platform/pricing/",
    quote: "[Rows read] First 25 billion / month included + $0.001 / million rows; [Rows written] First 50 million / month included + $1.00 / million rows; [Storage (per GB stored)] First 5 GB included + $0.75 / GB-mo",
    rows_read: { included: 25e9, per_million: 0.001 },
    rows_written: { included: 50e6, per_million: 1.00 },
    storage: { included_gb: 5, per_gb_month: 0.75 },
  },
  durable_objects: {
    url: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
    quote: "[Requests] 1 million, + $0.15/million; [Duration] 400,000 GB-s, + $12.50/million GB-s; Duration billing charges for the 128 MB of memory your Durable Object is allocated; [SQLite storage backend, Rows written] First 50 million / month included + $1.00 / million rows; [SQL Stored data] 5 GB-month, + $0.20/ GB-month",
    requests: { included: 1e6, per_million: 0.15 },
    duration: { included_gb_s: 400_000, per_million_gb_s: 12.50, gb: 0.128 },
    rows_written: { included: 50e6, per_million: 1.00 },
  },
  queues: {
    url: "https://developers.cloudflare.com/queues/pricing/",
    quote: "[Standard operations] 1,000,000 operations / month [included], $0.40 / million operations; An operation is counted for each 64 KB of data that is written, read, or deleted; In most cases, it takes 3 operations to deliver a message: 1 write, 1 read, and 1 delete",
    operations: { included: 1e6, per_million: 0.40 },
  },
};

// What the meter cannot see, stated as assumptions (BENCHMARKS.md repeats them).
const ASSUME = {
  // src/limits/object.rs keeps the month, its usage and the rate window in one row
  // (crates/core/src/limits/store.rs) and writes it once per call that changes them, never for
  // a 429 or a rate-free read: at most 1 row per call, counted as 1. Measured with the meter's
  // {"limiter":…} lines (src/meter.rs) by tests/e2e/limits.test.mjs. (Before: 2 rows per admitted
  // call and 1 more per bucket leaving the 60 s window, about 3 one request at a time.)
  do_rows_written_per_call: 1,
  // A limiter call's wall time, for Durable Object duration (billed only while a request is in
  // the object; it then may hibernate). Generous: the local p50 of /collect is under 10 ms.
  do_ms_per_call: 5,
  // crates/core/src/ingest/message.rs MAX_EVENTS_PER_MESSAGE; the day's messages stay under
  // 64 KB, so each is one operation written, read and deleted.
  events_per_message: 25,
  queue_ops_per_message: 3,
  retention_days_for_storage: 30, // Pro's retention: an event is stored for one month
};

/** The D1 database file under a Miniflare persistence directory. */
function d1File(dir) {
  const sub = join(dir, "miniflare-D1DatabaseObject");
  const name = readdirSync(sub).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  return join(sub, name);
}

/** Pages of the database and of each table with its indexes (dbstat), read-only. */
function dbstat(dir) {
  const script = `
import json, sqlite3, sys
c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
page_size = c.execute('PRAGMA page_size').fetchone()[0]
tables = {}
for tbl, pages, payload in c.execute("SELECT coalesce(m.tbl_name, d.name), count(*), sum(d.payload) FROM dbstat d LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"):
    tables[tbl] = {'bytes': pages * page_size, 'payload': payload}
print(json.dumps({'page_size': page_size, 'page_count': c.execute('PRAGMA page_count').fetchone()[0],
                  'freelist': c.execute('PRAGMA freelist_count').fetchone()[0], 'tables': tables}))
`;
  return JSON.parse(execFileSync("python3", ["-c", script, d1File(dir)], { encoding: "utf8" }));
}

/** Queue messages the day's events travel in, sent `batch` to a request. */
function messages(d, batch) {
  let n = 0;
  for (const org of d.orgs) {
    for (let i = 0; i < org.events.length; i += batch) n += Math.ceil(Math.min(batch, org.events.length - i) / ASSUME.events_per_message);
  }
  return n;
}

async function measure(batch, vars = {}) {
  const log = meterLog();
  const before = workerdPids();
  const app = await instance({ EDGESOC_D1_METER: "1", NETWORK_LIST_SOURCES: "{}", ...vars }, { runtimeStdio: log.runtimeStdio });
  const pids = new Set([...workerdPids()].filter((p) => !before.has(p)));
  try {
    const start = Date.now();
    const d = day({ ...size, end: linesEnd(start) });
    const probe = async () => ({ cpu_ms: cpuMs(pids), db: dbstat(app.dir) });
    const t0 = Date.now();
    const r = await replay(app, log, d, { batch, start, probe });
    r.seconds = (Date.now() - t0) / 1000;
    r.messages = messages(d, batch);
    r.mix = d.mix;
    return r;
  } finally {
    await app.dispose();
  }
}

const grow = (a, b) => (b.page_count - a.page_count) * b.page_size;
const byTable = (a, b, n) => Object.fromEntries(Object.entries(b.tables)
  .map(([t, v]) => [t, (v.bytes - (a.tables[t]?.bytes ?? 0)) / n])
  .filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]));


/** Per-event and per-line figures of one mode. */
function figures(r) {
  const ev = r.events.count, ln = r.lines.count;
  const { collect: f, consumer: c } = r.events;
  const pe = r.purge_events, pl = r.purge_lines, p = r.probes;
  const { event: written, line: lineWritten } = rowsWritten(r);
  return {
    events: ev, lines: ln, requests: r.events.requests, pushes: r.lines.pushes,
    consumer_invocations: c.invocations, events_per_consumer_invocation: ev / c.invocations,
    rows_written_per_event: written,
    rows_written_per_line: lineWritten,
    rows_read_per_event: {
      collect: f.rows_read / ev,
      consumer: (c.rows_read - c.detect.rows_read) / ev,
      detection: c.detect.rows_read / ev,
      purge: pe.rows_read / ev,
    },
    rows_read_per_line: { push: (r.lines.push.rows_read - r.lines.push.detect.rows_read) / ln, detection: r.lines.push.detect.rows_read / ln, purge: pl.rows_read / ln },
    statements_per_event: (f.statements + c.statements + pe.statements) / ev,
    // The database's own time (D1's meta.duration) storing, detecting and purging an event, and
    // a line: one database runs its statements one at a time, so 1000 / ms is what one shard
    // can take a second (docs/CAPACITY.md).
    sql_ms_per_event: (f.sql_ms + c.sql_ms + r.fold.sql_ms + pe.sql_ms) / ev,
    sql_ms_per_line: (r.lines.push.sql_ms + r.lines.catch_up.sql_ms + pl.sql_ms) / ln,
    reads_per_call: r.reads && Object.fromEntries(Object.entries(r.reads).map(([k, v]) => [k, { rows_read: v.rows_read / v.invocations, statements: v.statements / v.invocations }])),
    // The lines' rollups are caught up before the lines' probe, the events' by the reads and
    // the hourly cron after them: each kind is charged its own.
    bytes_per_line: grow(p.before.db, p.lines.db) / ln,
    bytes_per_event: grow(p.lines.db, p.folded.db) / ev,
    bytes_per_line_by_table: byTable(p.before.db, p.lines.db, ln),
    bytes_per_event_by_table: byTable(p.lines.db, p.folded.db, ev),
    cpu_ms_per_event_measured: (p.events.cpu_ms - p.lines.cpu_ms) / ev,
    cpu_ms_per_line_measured: (p.lines.cpu_ms - p.before.cpu_ms) / ln,
    messages_per_event: r.messages / ev,
  };
}

/** $ per million events (or lines) beyond the included allowances, term by term. */
function dollars(units) {
  const P = PRICES;
  const terms = {
    "Workers requests": units.requests * P.workers.requests.per_million,
    "Workers CPU time": units.cpu_ms * P.workers.cpu_ms.per_million,
    "D1 rows written": units.d1_rows_written * P.d1.rows_written.per_million,
    "D1 rows read": units.d1_rows_read * P.d1.rows_read.per_million,
    "D1 storage": (units.bytes * 1e6 / 1e9) * (ASSUME.retention_days_for_storage / 30) * P.d1.storage.per_gb_month,
    "Durable Object requests": units.do_calls * P.durable_objects.requests.per_million,
    "Durable Object duration": units.do_calls * (ASSUME.do_ms_per_call / 1000) * P.durable_objects.duration.gb * P.durable_objects.duration.per_million_gb_s,
    "Durable Object SQLite rows written": units.do_calls * ASSUME.do_rows_written_per_call * P.durable_objects.rows_written.per_million,
    "Queues operations": units.queue_ops * P.queues.operations.per_million,
  };
  const total = Object.values(terms).reduce((a, b) => a + b, 0);
  const [dominant, top] = Object.entries(terms).sort((a, b) => b[1] - a[1])[0];
  return { units, terms, total, dominant, dominant_share: top / total };
}

if (values.reprice) {
  // The measured units stay; only what they cost is recomputed (the date is kept as `repriced`).
  const path = new URL("./results/cost.json", import.meta.url);
  const out = JSON.parse(readFileSync(path, "utf8"));
  out.prices = PRICES;
  out.assumptions = ASSUME;
  for (const m of Object.values(out.modes)) m.dollars_per_million_events = dollars(m.dollars_per_million_events.units);
  out.lines.dollars_per_million_lines = dollars(out.lines.dollars_per_million_lines.units);
  out.repriced = new Date().toISOString().slice(0, 10);
  writeFileSync(path, JSON.stringify(out, null, 2));
  console.log(`repriced bench/results/cost.json (measured ${out.measured}): $${out.modes.single.dollars_per_million_events.total.toFixed(2)} per million events one at a time`);
  process.exit(0);
}

const httpPath = new URL("./results/http.json", import.meta.url);
const http = existsSync(httpPath) ? JSON.parse(readFileSync(httpPath, "utf8")) : null;

const modes = {};
// The rollups catch up at most every ROLLUP_CATCH_UP_SECONDS (src/logs/mod.rs; 600 by default), and
// a replay sends a day in minutes, so its catch-ups cover far more items than a real day's would:
// `single_every_batch` catches up with every insert batch, the most a quiet installation writes.
for (const [name, batch, vars] of [["single", 1], ["batch_100", 100], ["single_every_batch", 1, { ROLLUP_CATCH_UP_SECONDS: "0" }]]) {
  process.stderr.write(`cost: ${name} (${size.orgs} organisations, ${size.users} users each)… `);
  const r = await measure(batch, vars);
  const fig = figures(r);
  process.stderr.write(`${fig.events} events, ${fig.lines} lines in ${r.seconds.toFixed(0)} s: ${fig.rows_written_per_event.all_in.toFixed(1)} rows written per event all in\n`);
  // CPU per event: bench/http.mjs's workerd CPU per /collect request under load (it counts the
  // consumer too) when present; else this run's own, measured the same way.
  const httpCpu = http?.[batch === 1 ? "collect_single" : "collect_batch_100"]?.cpu_us_per_request;
  const cpu = httpCpu != null ? { ms: httpCpu / 1000 / batch, source: "bench/results/http.json" } : { ms: fig.cpu_ms_per_event_measured, source: "this run" };
  const units = {
    requests: (fig.requests + fig.consumer_invocations) / fig.events,
    cpu_ms: cpu.ms,
    d1_rows_written: fig.rows_written_per_event.all_in,
    d1_rows_read: fig.rows_read_per_event.collect + fig.rows_read_per_event.consumer + fig.rows_read_per_event.detection + fig.rows_read_per_event.purge,
    bytes: fig.bytes_per_event,
    do_calls: fig.requests / fig.events, // one limiter call per request: the replay sends one at a time
    queue_ops: fig.messages_per_event * ASSUME.queue_ops_per_message,
  };
  modes[name] = { batch, figures: fig, cpu_source: cpu.source, dollars_per_million_events: dollars(units), raw: r };
}
// Log lines, from the single run: one push of about 50 lines is one request and one limiter call.
const s = modes.single.figures;
const lineUnits = {
  requests: s.pushes / s.lines,
  cpu_ms: s.cpu_ms_per_line_measured,
  d1_rows_written: s.rows_written_per_line.all_in,
  d1_rows_read: s.rows_read_per_line.push + s.rows_read_per_line.detection + s.rows_read_per_line.purge,
  bytes: s.bytes_per_line,
  do_calls: s.pushes / s.lines,
  queue_ops: 0,
};

const out = {
  measured: new Date().toISOString().slice(0, 10),
  size,
  mix: modes.single.raw.mix,
  prices: PRICES,
  assumptions: ASSUME,
  modes: Object.fromEntries(Object.entries(modes).map(([k, v]) => [k, { ...v, raw: undefined }])),
  lines: { dollars_per_million_lines: dollars(lineUnits) },
  raw: Object.fromEntries(Object.entries(modes).map(([k, v]) => [k, v.raw])),
};
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/cost.json", import.meta.url), JSON.stringify(out, null, 2));
for (const [k, v] of Object.entries(modes)) {
  const d = v.dollars_per_million_events;
  console.log(`${k}: ${v.figures.rows_written_per_event.all_in.toFixed(2)} rows written/event all in; $${d.total.toFixed(2)} per million events (${d.dominant} ${(100 * d.dominant_share).toFixed(0)} %)`);
}
