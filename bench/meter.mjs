// Replays a generated day (bench/day.mjs) through a Worker instance started with the D1 cost
// meter on (EDGESOC_D1_METER=1, src/meter.rs), and sums the meter's log lines by phase: the Loki
// pushes, the events through POST /collect and the queue consumer, reads, and the purge of each.
// Shared by bench/cost.mjs and tests/e2e/cost.test.mjs. All requests go to the local instance.
import { linesIn } from "./day.mjs";

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** The hourly cron (wrangler.toml), whose catch-up folds the closed hours into log_source_hours. */
const REFRESH_CRON = "41 * * * *";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The meter's `{"d1":…}` lines as workerd prints them (or, with `tag: "limiter"`, the limiter
 *  object's `{"limiter":…}` lines, src/meter.rs); pass `runtimeStdio` to start(). */
export function meterLog({ echo = false, tag = "d1" } = {}) {
  const lines = [];
  const reader = (keep) => {
    let buf = "";
    return (chunk) => {
      buf += chunk;
      for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) {
        const line = buf.slice(0, i);
        const at = line.indexOf(`{"${tag}":`);
        if (keep && at >= 0) {
          try { lines.push(JSON.parse(line.slice(at))[tag]); } catch { /* a partial line: not ours */ }
        } else if (echo && line.trim()) process.stderr.write(`[workerd] ${line}\n`);
      }
    };
  };
  // Both streams are read: an unread pipe would stall workerd once full.
  const runtimeStdio = (stdout, stderr) => {
    stdout.on("data", reader(true));
    stderr.on("data", reader(false));
  };
  return { lines, runtimeStdio };
}

/** Sums meter lines: invocations, statements, rows read and written, the database's time
 *  running them (`sql_ms`), and the shares of detection and of the rollups' catch-ups. */
export function total(lines) {
  const zero = () => ({ statements: 0, rows_read: 0, rows_written: 0, sql_ms: 0 });
  const t = { invocations: 0, ...zero(), detect: zero(), rollups: zero() };
  for (const l of lines) {
    t.invocations++;
    for (const k of ["statements", "rows_read", "rows_written", "sql_ms"]) {
      t[k] += l[k] ?? 0;
      t.detect[k] += l.detect?.[k] ?? 0;
      t.rollups[k] += l.rollups?.[k] ?? 0;
    }
  }
  return t;
}

/** D1 rows written per event and per raw line of a replay, all in: each one's own (ingest,
 *  detection, purge) and the rows of the dashboard rollups' catch-ups that counted them,
 *  wherever they ran: for the lines, the pushes' and the dashboard read that follows them; for
 *  the events, the consumer's, the reads' after the events and the hourly cron's that folds
 *  their hour into log_source_hours. */
export function rowsWritten(r) {
  const { collect: f, consumer: c } = r.events, push = r.lines.push;
  const ev = r.events.count, ln = r.lines.count;
  const sum = (ts) => ts.reduce((a, t) => a + t.rollups.rows_written, 0);
  const eventRollups = sum([c, ...Object.values(r.reads ?? {}), r.fold, r.purge_lines, r.purge_events]) / ev;
  const lineRollups = sum([push, r.lines.catch_up]) / ln;
  const allIn = (x) => ({ ...x, all_in: x.ingest + x.rollups + x.detection + x.purge });
  return {
    event: allIn({
      ingest: (f.rows_written + c.rows_written - c.detect.rows_written - c.rollups.rows_written) / ev,
      rollups: eventRollups, detection: c.detect.rows_written / ev, purge: r.purge_events.rows_written / ev,
    }),
    line: allIn({
      ingest: (push.rows_written - push.detect.rows_written - push.rollups.rows_written) / ln,
      rollups: lineRollups, detection: push.detect.rows_written / ln, purge: r.purge_lines.rows_written / ln,
    }),
  };
}

/** Waits until `log.lines` has `n` lines, or `timeoutMs` passed (stdout trails the answers). */
async function linesReach(log, n, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (log.lines.length < n && Date.now() < deadline) await sleep(10);
}

/** Where a replay starting at `start` ends its day's raw lines: the start of its UTC day, so the
 *  lines fill one whole UTC day, whatever the hour of the run (their daily rollups, and with them
 *  rows written per line, would otherwise vary with the hour), and the first purge (past the
 *  lines' retention, before the events') takes every line and no event (the purge removes whole
 *  hours, crates/core/src/retention.rs). */
export function linesEnd(start) {
  return Math.floor(start / 86_400_000) * 86_400_000;
}

/**
 * Replays `org`s of a `day()` through `app` (started with the meter on and `log.runtimeStdio`):
 * keys (Enterprise: no rate limit for a day replayed in minutes, the same detection as Pro),
 * the Loki pushes, the events (`batch` per request: 1, or 100), the queue drained, reads, the
 * hourly cron once the events' hour has closed, then the purge of the lines (at `start` +
 * retention, when only the lines, timestamped before `start`, are past it) and of everything
 * else. `probe(phase)` is called after each phase ("before", "lines", "events", "reads",
 * "folded", "purged_lines", "purged") and what it answers is kept in `probes` (the database
 * size, CPU time). Returns the meter's sums by phase and the counts they divide by.
 */
export async function replay(app, log, d, { batch = 1, retentionDays = 90, start, probe = async () => null, reads = true } = {}) {
  const keys = [];
  for (const org of d.orgs) keys.push(await app.createKey({ org: org.name, plan: "enterprise" }));
  const out = { batch, orgs: d.orgs.length, probes: { before: await probe("before") } };
  const phase = async (fn) => {
    const mark = log.lines.length;
    await fn();
    return log.lines.slice(mark);
  };

  // Raw lines: one push per shipper batch, organisations in turn.
  let lines = 0, pushes = 0;
  const lokiLines = await phase(async () => {
    const mark = log.lines.length;
    const n = Math.max(...d.orgs.map((o) => o.pushes.length));
    for (let i = 0; i < n; i++) {
      for (const [k, org] of d.orgs.entries()) {
        const push = org.pushes[i];
        if (!push) continue;
        const res = await app.request("/loki/api/v1/push", { method: "POST", key: keys[k], body: push, headers: { "content-type": "application/json" } });
        if (res.status !== 204) throw new Error(`loki push: ${res.status} ${JSON.stringify(res.body)}`);
        lines += linesIn(push);
        pushes++;
      }
    }
    await linesReach(log, mark + pushes);
  });
  // The rollups caught up with the lines before any event is sent (a dashboard read), so each
  // kind of item is charged the rollup rows its own catch-ups write.
  const caughtUp = await phase(async () => {
    const mark = log.lines.length;
    const res = await app.request("/ui/mock-data", { key: keys[0] });
    if (res.status !== 200) throw new Error(`/ui/mock-data: ${res.status}`);
    await linesReach(log, mark + 1);
  });
  out.lines = { count: lines, pushes, push: total(lokiLines.filter((l) => l.route === "POST /loki/api/v1/push")),
    catch_up: total(caughtUp.filter((l) => l.entry === "fetch")) };
  out.probes.lines = await probe("lines");

  // Events: each organisation's day in order, organisations interleaved request by request.
  let events = 0, requests = 0;
  const ingest = await phase(async () => {
    const chunks = d.orgs.map((o) => {
      const c = [];
      for (let i = 0; i < o.events.length; i += batch) c.push(o.events.slice(i, i + batch));
      return c;
    });
    const n = Math.max(...chunks.map((c) => c.length));
    for (let i = 0; i < n; i++) {
      for (const [k, c] of chunks.entries()) {
        if (!c[i]) continue;
        const body = batch === 1 ? c[i][0] : { events: c[i] };
        const res = await app.collect(keys[k], body);
        if (res.status !== 202) throw new Error(`/collect: ${res.status} ${JSON.stringify(res.body)}`);
        events += c[i].length;
        requests++;
      }
    }
    // The queue has drained when every event is stored and no consumer line came for 1.5 s.
    const deadline = Date.now() + 120_000;
    let seen = log.lines.length, quietSince = Date.now();
    while (Date.now() < deadline) {
      await sleep(100);
      if (log.lines.length !== seen) [seen, quietSince] = [log.lines.length, Date.now()];
      const stored = await app.count("SELECT count(*) FROM events");
      if (stored === events && Date.now() - quietSince >= 1500) return;
    }
    throw new Error("the queue did not drain");
  });
  const collect = ingest.filter((l) => l.entry === "fetch" && l.route === "POST /collect");
  const consumer = ingest.filter((l) => l.entry === "queue" && l.route === "edgesoc-detect");
  out.events = { count: events, requests, collect: total(collect), consumer: total(consumer) };
  out.stored = {
    events: await app.count("SELECT count(*) FROM events"),
    // Dashboard log items: raw lines and events (each event's row holds its item).
    logs: await app.count("SELECT count(*) FROM items"),
    alerts: await app.count("SELECT count(*) FROM alerts"),
  };
  out.probes.events = await probe("events");

  // Reads: per organisation, the dashboard's default view, the first page of /events, and
  // /events filtered by an actor of the day. Each answer's own meter line.
  if (reads) {
    const calls = { dashboard: [], events: [], events_by_actor: [] };
    for (const [k, org] of d.orgs.entries()) {
      const actor = org.events.find((e) => e.actor?.id?.startsWith("user-"))?.actor.id;
      for (const [name, path] of [["dashboard", "/ui/mock-data"], ["events", "/events"], ["events_by_actor", `/events?actor_id=${encodeURIComponent(actor)}`]]) {
        const mark = log.lines.length;
        const res = await app.request(path, { key: keys[k] });
        if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
        await linesReach(log, mark + 1);
        calls[name].push(...log.lines.slice(mark).filter((l) => l.entry === "fetch"));
      }
    }
    out.reads = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, total(v)]));
    out.probes.reads = await probe("reads");
  }

  // The hourly cron once the events' hour has closed: its catch-up folds that hour into
  // log_source_hours (crates/core/src/logs/rollups.rs `fold`), as it does every hour in service.
  // (The caller turns the network-list refresh off: NETWORK_LIST_SOURCES = "{}".)
  const folded = await phase(async () => {
    const mark = log.lines.length;
    const res = await app.scheduled(Date.now() + HOUR, REFRESH_CRON);
    if (res.outcome !== "ok") throw new Error(`hourly cron: ${res.outcome}`);
    await linesReach(log, mark + 1);
  });
  out.fold = total(folded.filter((l) => l.entry === "scheduled"));
  out.probes.folded = await probe("folded");

  // The purge: first at start + retention, when only the raw lines are past it, then a day
  // after everything is.
  const purge = async (time, done) => {
    let runs = 0;
    const ran = await phase(async () => {
      do {
        const mark = log.lines.length;
        const res = await app.scheduled(time);
        if (res.outcome !== "ok") throw new Error(`purge: ${res.outcome}`);
        await linesReach(log, mark + 1);
        runs++;
      } while (!(await done()) && runs < 10);
    });
    if (!(await done())) throw new Error("the purge did not finish in 10 runs");
    return { runs, ...total(ran.filter((l) => l.entry === "scheduled")) };
  };
  const retention = retentionDays * DAY;
  out.purge_lines = await purge(start + retention, async () => (await app.count("SELECT count(*) FROM logs WHERE ts < ?", start)) === 0);
  out.stored.events_after_line_purge = await app.count("SELECT count(*) FROM events");
  out.probes.purged_lines = await probe("purged_lines");
  out.purge_events = await purge(Date.now() + retention + DAY, async () =>
    (await app.count("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM logs) + (SELECT count(*) FROM alerts)")) === 0);
  out.probes.purged = await probe("purged");
  return out;
}
