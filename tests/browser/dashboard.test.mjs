// Headless Chromium test of the dashboard page (issue 5 §3), driven by playwright-core.
//
//   scripts/setup-browser && scripts/build-dashboard && node --test tests/browser/
//
// By default the page is served from public/ by a small fake of the Worker (server.mjs) that answers
// /ui/mock-data with tests/browser/fixture.json and fakes PATCH /alerts/:id.
// To run against a real Worker instead (e.g. `wrangler dev` with the dashboard assets), set
//   BASE_URL=http://127.0.0.1:8787 API_KEY=lsoc_live_…  node --test tests/browser/
// Then the fake server is not started, expected values come from the Worker's own /ui/mock-data,
// and the checks that need planted data (hostile strings, exact fixture counts) adapt or skip.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./chromium.mjs";
import { startFakeServer, TEST_KEY } from "./server.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PUBLIC = join(ROOT, "public");
const ARTIFACTS = join(ROOT, "tests", "artifacts");
const XSS = "<img src=x onerror=alert(1)>";
const XSS2 = "\"><svg onload=alert(2)>";

const REAL = Boolean(process.env.BASE_URL);
let BASE = process.env.BASE_URL?.replace(/\/+$/, "");
const KEY = REAL ? process.env.API_KEY : TEST_KEY;

const fmtNum = (n) => n.toLocaleString("en-US");
// The fixture guarantees two open anomalies (make-fixture.mjs); a real Worker must have them too
// (tests/smoke/dev.test.mjs runs scripts/demo-traffic first).
const NO_OPEN_ANOMALY = "no open anomaly to act on: the fixture (tests/browser/make-fixture.mjs) or, with BASE_URL, the Worker's data must hold two";
const isOffHours = (iso) => {
  const d = new Date(iso);
  const m = d.getUTCHours() * 60 + d.getUTCMinutes();
  return d.getUTCDay() === 0 || d.getUTCDay() === 6 || m < 480 || m >= 1080;
};
const isMockData = (r) => new URL(r.url()).pathname === "/ui/mock-data";
const param = (r, k) => new URL(r.url()).searchParams.get(k);

let server = null;
let ctx;
let page;
let closeChromium;
let expected; // the /ui/mock-data body for the page's default query (24 h, the open threats)
const dialogs = [];
const pageErrors = [];
const consoleErrors = [];

async function apiGet(path) {
  const res = await fetch(`${BASE}${path}`, { headers: { "X-API-Key": KEY } });
  assert.equal(res.status, 200, `GET ${path} → ${res.status}`);
  return res.json();
}

/** Waits until the dashboard finished a load (status dot ok) after `action`. */
async function reloadVia(action, match = () => true) {
  const resp = page.waitForResponse((r) => isMockData(r) && match(r.request()));
  await action();
  const r = await resp;
  await page.waitForSelector("#status-dot.ok, #status-dot.error");
  await page.waitForFunction(() => !document.querySelector("#status-dot.loading"));
  return r;
}

describe("dashboard page", { concurrency: false }, () => {
  before(async () => {
    if (REAL) {
      assert.ok(KEY, "BASE_URL is set: also set API_KEY");
    } else {
      assert.ok(existsSync(join(PUBLIC, "index.html")), "public/index.html missing: run scripts/build-dashboard");
      const fixture = JSON.parse(readFileSync(new URL("./fixture.json", import.meta.url), "utf8"));
      server = await startFakeServer({ publicDir: PUBLIC, fixture });
      BASE = server.url;
    }
    expected = await apiGet("/ui/mock-data?hours=24&anomaly_status=active");
    mkdirSync(ARTIFACTS, { recursive: true });
    // The page must show UTC whatever the browser's zone.
    ({ context: ctx, close: closeChromium } = await launchChromium({ timezoneId: "America/Los_Angeles" }));
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.setDefaultTimeout(10_000);
    page.on("dialog", (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      // A 401/403 response is logged by Chromium as "Failed to load resource"; those are expected here.
      if (m.type() === "error" && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
    });
  });

  after(async () => {
    await closeChromium?.();
    await server?.close();
  });

  test("asks for a key, rejects a wrong one, then signs in with an HttpOnly session cookie and keeps no key", async () => {
    await page.clock.install(); // lets a later test fast-forward to the 30 s refresh
    await page.goto(`${BASE}/`);
    await page.waitForSelector("#key-dialog[open]");
    await page.fill("#key-input", "lsoc_test_definitely_not_a_valid_key");
    const bad = page.waitForResponse((r) => new URL(r.url()).pathname === "/session" && r.request().method() === "POST");
    await page.click("#key-submit");
    assert.equal((await bad).status(), 401);
    await page.waitForSelector("#key-dialog[open] #key-error:not([hidden])");
    assert.ok((await page.textContent("#key-error")).length > 0, "the 401 message is shown");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-key.png") });

    await page.fill("#key-input", KEY);
    const ok = await reloadVia(() => page.click("#key-submit"));
    assert.equal(ok.status(), 200);
    assert.equal(ok.request().headers()["x-api-key"], undefined, "no key on the wire after sign-in");
    assert.match((await ok.request().allHeaders()).cookie ?? "", /edgesoc_session=/, "the session cookie instead");
    assert.equal(param(ok.request(), "hours"), "24");
    assert.equal(param(ok.request(), "anomaly_status"), "active", "the page counts the open threats");
    assert.equal(await page.isVisible("#key-dialog"), false);
    // Nothing the page can read holds the key or the session.
    const stored = await page.evaluate(() => JSON.stringify([{ ...sessionStorage }, { ...localStorage }, document.cookie]));
    assert.ok(!stored.includes(KEY), "the key is in no browser storage");
    assert.doesNotMatch(stored, /edgesoc_session/, "the session cookie is HttpOnly");
    const [cookie] = (await ctx.cookies()).filter((c) => c.name === "edgesoc_session");
    assert.ok(cookie, "the session cookie is set");
    assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite], [true, true, "Strict"]);
    assert.equal(await page.textContent("#key-btn"), "Sign out");
  });

  test("KPI tiles show the stats", async () => {
    const s = expected.stats;
    const kpi = (id) => page.textContent(`#kpi-${id} .kpi-value`);
    assert.equal(await kpi("total"), fmtNum(s.totalEvents));
    assert.equal(await kpi("critical"), fmtNum(s.criticalThreats));
    assert.equal(await kpi("failed"), fmtNum(s.failedLogins));
    assert.equal(await kpi("iam"), fmtNum(s.iamChanges));
    assert.equal(await kpi("sources"), fmtNum(s.attackSources));
    assert.equal(await kpi("rate"), s.eventsPerHour.toLocaleString("en-US", { maximumFractionDigits: 1 }));
    assert.equal(await page.textContent("#kpi-critical .kpi-label"), "Open critical threats");
    assert.match(await page.textContent("#kpi-critical .kpi-sub"), new RegExp(`of ${fmtNum(s.totalAnomalies)} open anomalies`));
    assert.match(await page.textContent("#updated"), /^Updated \d\d:\d\d:\d\d UTC · \d+s ago$/);
  });

  test("every chart is drawn from the data", async () => {
    for (const id of ["timeline", "threats", "attackers", "flow", "heatmap"]) {
      const size = await page.$eval(`#chart-${id} canvas`, (c) => [c.width, c.height]);
      assert.ok(size[0] > 100 && size[1] > 100, `#chart-${id} canvas is ${size}`);
    }
    const opt = await page.evaluate(() => {
      const c = window.__edgesoc.charts;
      const o = (k) => c[k].getOption();
      return {
        timeline: o("timeline").series.map((s) => s.data.length),
        stacked: o("timeline").series.filter((s) => s.stack).length,
        threats: o("threats").series[0].data.map((d) => [d.name, d.value]),
        attackers: o("attackers").series[0].data.length,
        flowNodes: o("flow").series[0].data.length,
        flowLinks: o("flow").series[0].links.length,
        heat: o("heatmap").series[0].data.length,
      };
    });
    assert.ok(opt.timeline.every((n) => n === expected.securityEventsTimeline.length), `timeline ${opt.timeline}`);
    assert.equal(opt.stacked, 3, "three stacked severity series");
    const anyThreat = expected.threatDistribution.some((d) => d.count > 0);
    assert.deepEqual(opt.threats, anyThreat ? expected.threatDistribution.map((d) => [d.level, d.count]) : [["none", 1]]);
    assert.equal(opt.attackers, Math.min(10, expected.topAttackers.length));
    assert.equal(opt.flowNodes, expected.networkFlow.sankeyData.nodes.length);
    assert.equal(opt.flowLinks, expected.networkFlow.sankeyData.links.length);
    assert.equal(opt.heat, 7 * 24);
    assert.equal(await page.locator("#threats-legend li").count(), 4);
    assert.equal(await page.textContent("#threats-total"), fmtNum(expected.threatDistribution.reduce((s, d) => s + d.count, 0)));
  });

  test("tables and the live stream are populated", async () => {
    const rows = (sel) => page.locator(sel).count();
    assert.equal(await rows("#anomalies tbody tr.anomaly"), expected.anomalies.length);
    assert.equal(await rows("#anomalies tbody tr.anomaly .conf-fill"), expected.anomalies.length, "confidence bars");
    assert.equal(await rows("#attackers tbody tr"), Math.max(1, expected.topAttackers.length));
    assert.equal(await rows("#iam tbody tr"), Math.max(1, expected.iamChanges.length));
    const off = expected.iamChanges.filter((c) => isOffHours(c.timestamp)).length;
    assert.equal(await rows("#iam .badge.off"), off, "off-hours badges computed client-side");
    if (!REAL) assert.ok(off >= 1 && off < expected.iamChanges.length, "fixture has both kinds");
    const countries = new Set(expected.logs.filter((l) => l.geo).map((l) => (/^[a-z]{2}$/i.test(l.geo) ? l.geo.toUpperCase() : l.geo))).size;
    assert.equal(await rows("#countries tbody tr:not(.empty)"), countries);
    assert.equal(await rows("#stream li.ev"), Math.min(50, expected.logs.length + expected.anomalies.length));
    // newest first
    const times = await page.$$eval("#stream li.ev time", (ts) => ts.map((t) => t.getAttribute("datetime")));
    assert.deepEqual(times, [...times].sort((a, b) => Date.parse(b) - Date.parse(a)));
    // status badges on attackers
    const statuses = await page.$$eval("#attackers tbody .status", (s) => s.map((x) => x.textContent));
    assert.equal(statuses.length, expected.topAttackers.length);
  });

  test("data is rendered as text, never as HTML (tables, pickers, tooltips)", async (t) => {
    const blob = JSON.stringify(expected);
    if (REAL && !blob.includes("<")) return t.skip("the Worker's data has no markup to check");
    assert.deepEqual(dialogs, [], "no alert() fired");
    assert.equal(await page.locator("img[src='x'], svg[onload], img[onerror]").count(), 0, "no injected elements");
    if (REAL) return;

    // literal text in the DOM
    const titles = await page.$$eval("#anomalies .col-desc .title", (e) => e.map((x) => x.textContent));
    assert.ok(titles.includes(XSS), "anomaly title shown literally");
    assert.ok((await page.textContent("#anomalies")).includes(`Sensitive export by ${XSS}`), "description");
    assert.ok((await page.$$eval("#anomalies .col-user", (e) => e.map((x) => x.textContent))).includes(XSS), "user");
    const iam = await page.textContent("#iam");
    assert.ok(iam.includes(XSS) && iam.includes(XSS2), "IAM changedBy and resource shown literally");
    assert.ok((await page.textContent("#stream")).includes(XSS), "stream shows the hostile user literally");
    assert.ok((await page.textContent("#attackers")).includes(XSS2), "attacker country shown literally");
    assert.ok((await page.textContent("#countries")).includes(XSS2), "country table");
    assert.ok(await page.$$eval("#f-service option", (o) => o.some((x) => x.value === "<img src=x onerror=alert(1)>")));

    // ECharts HTML tooltips: hostile sankey node name and attacker country
    const tip = async (chart, dataIndex, needle) => {
      await page.evaluate(([c, i]) => window.__edgesoc.charts[c].dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex: i }), [chart, dataIndex]);
      const handle = await page.waitForFunction(([c, n]) => {
        const divs = [...document.querySelectorAll(`#chart-${c} .ec-tooltip`)];
        return divs.find((d) => d.textContent.includes(n)) ?? null;
      }, [chart, needle]);
      const r = await handle.evaluate((d) => ({ text: d.textContent, injected: d.querySelectorAll("img, svg, script").length }));
      await page.evaluate((c) => window.__edgesoc.charts[c].dispatchAction({ type: "hideTip" }), chart);
      return r;
    };
    const node = expected.networkFlow.sankeyData.nodes.findIndex((n) => n.name === XSS);
    assert.ok(node >= 0);
    const t1 = await tip("flow", node, XSS);
    assert.ok(t1.text.includes(XSS));
    assert.equal(t1.injected, 0, "sankey tooltip escaped");
    const att = expected.topAttackers.findIndex((a) => a.country === XSS2);
    const t2 = await tip("attackers", att, XSS2);
    assert.equal(t2.injected, 0, "attacker tooltip escaped");
    assert.deepEqual(dialogs, []);
  });

  test("an anomaly expands to show its evidence", async () => {
    const row = page.locator("#anomalies tr.anomaly").first();
    const id = await row.getAttribute("data-id");
    await row.locator(".col-desc").click();
    const ev = page.locator(`#anomalies tr.evidence-row[data-for="${id}"]`);
    await ev.waitFor();
    const a = expected.anomalies.find((x) => x.id === id);
    assert.ok((await ev.locator("dt").count()) >= Math.min(1, Object.keys(a.evidence ?? {}).length));
    await row.locator(".col-desc").click();
    assert.equal(await ev.count(), 0, "collapses again");
  });

  test("evidence reads for people: travel hops, counted accounts, event ids, all as text", async (t) => {
    if (REAL) return t.skip("needs the fixture's planted evidence");
    const find = (type) => expected.anomalies.find((x) => x.type === type && x.status === "open");
    const toggle = (a) => page.locator(`#anomalies tr.anomaly[data-id="${a.id}"] .col-desc`).click();
    /** The expanded evidence of `a` as {key: {text, lines, ids}}, opened and closed again. */
    const evidenceOf = async (a) => {
      await toggle(a);
      await page.locator(`#anomalies tr.evidence-row[data-for="${a.id}"]`).waitFor();
      const rows = await page.$$eval(`#anomalies tr.evidence-row[data-for="${a.id}"] dl > div`, (divs) => divs.map((d) => [
        d.querySelector("dt").textContent,
        {
          text: d.querySelector(".ev-text").textContent,
          lines: [...d.querySelectorAll(".ev-line")].map((x) => x.textContent),
          ids: [...d.querySelectorAll(".ev-id")].map((x) => [x.textContent, x.getAttribute("title")]),
        },
      ]));
      return Object.fromEntries(rows);
    };

    // Impossible travel: one row per hop with both ends; the top-level from/to are not repeated.
    const travel = find("impossible_travel");
    const hops = travel.evidence.hops;
    assert.equal(hops.length, 2);
    const tr = await evidenceOf(travel);
    await page.locator("#card-anomalies").screenshot({ path: join(ARTIFACTS, "dashboard-evidence.png") });
    await toggle(travel);
    assert.ok(!Object.keys(tr).some((k) => k === "from" || k === "to" || k.startsWith("from.") || k.startsWith("to.")), Object.keys(tr).join(","));
    assert.equal(tr["hop 1 of 2"].text, hops[0].summary);
    assert.equal(tr["hop 2 of 2"].text, hops[1].summary);
    assert.deepEqual(tr["hop 1 of 2"].lines, [
      "from: London, United Kingdom (GB) · Europe/London · AS2856 British Telecommunications PLC · 81.2.69.142 · Jan 30 07:22:00 UTC",
      "to: Singapore, Singapore (SG) · Asia/Singapore · AS15169 Google LLC · 8.8.4.4 · Jan 30 08:00:00 UTC",
    ]);
    assert.equal(tr["hop 2 of 2"].lines[1],
      `to: Frankfurt am Main, Germany (DE) · Europe/Berlin · AS64500 ${XSS} · 203.0.113.200 · datacenter · Jan 30 08:14:00 UTC`,
      "a hostile organisation name is shown literally");
    assert.equal(tr.networks.text, "datacenter");
    assert.equal(tr.downgraded.text, "yes");
    assert.equal(tr.distance_km.text, `${hops[1].distance_km.toLocaleString("en-US")} km`);
    assert.equal(tr.event_ids.text, "3 events");
    assert.deepEqual(tr.event_ids.ids, travel.evidence.event_ids.map((id) => [`${id.slice(0, 8)}…`, id]), "shortened, the full id as a title");

    // Account compromise: accounts as a counted list with the total, times readable.
    const comp = find("account_compromise");
    const ac = await evidenceOf(comp);
    await toggle(comp);
    assert.equal(ac.accounts.text, `bob@example.com ×7, ${XSS} ×1 — 2 in all`);
    assert.equal(ac.source_ips.text, "192.0.2.77 ×8 — 1 in all");
    assert.ok(!("accounts_total" in ac) && !("source_ips_total" in ac), "totals are folded into the lists");
    assert.equal(ac.failures.text, "7");
    assert.equal(ac.success_at.text, "Jan 30 11:40:00 UTC");
    assert.equal(ac.first_failure_at.text, "Jan 30 11:35:00 UTC");
    assert.equal(ac.event_ids.text, "8 events");
    assert.deepEqual(ac.event_ids.ids.map(([shown, full]) => shown === full), Array(8).fill(true), "short raw-line ids are shown whole");

    // Rate-limit abuse: a hostile id stays text, in the title too.
    const rl = await evidenceOf(find("rate_limit_exceeded"));
    await toggle(find("rate_limit_exceeded"));
    assert.ok(rl.event_ids.ids.some(([shown, full]) => full === XSS2 && shown === `${XSS2.slice(0, 8)}…`));
    assert.equal(rl.first_at.text, "Jan 30 11:19:00 UTC");

    // Suspicious network: its networks joined.
    const sn = await evidenceOf(find("suspicious_network"));
    await toggle(find("suspicious_network"));
    assert.equal(sn.networks.text, "datacenter");
    assert.equal(sn.asn_org.text, "Amazon.com, Inc.");

    assert.equal(await page.locator("#anomalies tr.evidence-row").count(), 0, "all collapsed again");
    assert.equal(await page.locator("img[src='x'], svg[onload], img[onerror]").count(), 0, "no injected elements");
    assert.deepEqual(dialogs, []);
  });

  test("severity filter narrows the anomaly table", async () => {
    for (const sev of ["critical", "high", "medium", "low"]) {
      await page.click(`#sev-filter [data-sev="${sev}"]`);
      const n = expected.anomalies.filter((a) => a.severity === sev).length;
      assert.equal(await page.locator("#anomalies tr.anomaly").count(), n, sev);
      assert.equal(await page.locator(`#anomalies tr.anomaly .sev:not(.sev-${sev})`).count(), 0);
    }
    await page.click('#sev-filter [data-sev="all"]');
    assert.equal(await page.locator("#anomalies tr.anomaly").count(), expected.anomalies.length);
  });

  test("window selector sends hours, pickers send service and namespace", async () => {
    let r = await reloadVia(() => page.click('#f-hours [data-hours="1"]'));
    assert.equal(param(r.request(), "hours"), "1");
    assert.equal(await page.getAttribute('#f-hours [data-hours="1"]', "aria-pressed"), "true");
    r = await reloadVia(() => page.click('#f-hours [data-hours="168"]'));
    assert.equal(param(r.request(), "hours"), "168");
    r = await reloadVia(() => page.click('#f-hours [data-hours="24"]'));
    assert.equal(param(r.request(), "hours"), "24");

    // pickers are filled from values seen in the data
    const services = await page.$$eval("#f-service option", (o) => o.map((x) => x.value).filter(Boolean));
    const seen = new Set(expected.logs.map((l) => l._metadata.service));
    for (const s of seen) assert.ok(services.includes(s), `service ${s} offered`);
    const svc = services.includes("auth-service") ? "auth-service" : services[0];
    r = await reloadVia(() => page.selectOption("#f-service", svc));
    assert.equal(param(r.request(), "service"), svc);
    assert.equal(param(r.request(), "hours"), "24");
    if (!REAL) {
      const n = expected.anomalies.filter((a) => a.service === svc).length;
      assert.equal(await page.locator("#anomalies tr.anomaly").count(), n);
    }
    const namespaces = await page.$$eval("#f-namespace option", (o) => o.map((x) => x.value).filter(Boolean));
    assert.ok(namespaces.length >= 1);
    const ns = namespaces.includes("prod") ? "prod" : namespaces[0];
    r = await reloadVia(() => page.selectOption("#f-namespace", ns));
    assert.equal(param(r.request(), "namespace"), ns);
    assert.equal(param(r.request(), "service"), svc);
    assert.match(page.url(), /service=/, "filters are kept in the address");
    // the picker keeps every service seen before, so the selection can be widened again
    assert.deepEqual(await page.$$eval("#f-service option", (o) => o.map((x) => x.value).filter(Boolean)), services);

    await reloadVia(() => page.selectOption("#f-namespace", ""));
    r = await reloadVia(() => page.selectOption("#f-service", ""));
    assert.equal(param(r.request(), "service"), null);
    assert.equal(param(r.request(), "namespace"), null);
    r = await reloadVia(() => page.click("#refresh"));
    assert.equal(r.status(), 200, "refresh on demand");
  });

  test("a custom range: picked in UTC, sent as start and end, kept in the address, held to retention", async () => {
    await page.click("#range-btn");
    assert.equal(await page.isVisible("#range-form"), true);
    assert.match(await page.textContent("#range-note"), /keeps 30 days/);
    const min = await page.getAttribute("#range-start", "min");
    assert.ok(Date.parse(`${min}:00Z`) >= Date.now() - 30 * 86_400_000 - 120_000, `min ${min} is the retention`);
    const day = (ms) => new Date(ms).toISOString().slice(0, 16);
    const from = day(Date.now() - 3 * 86_400_000);
    const to = day(Date.now() - 2 * 86_400_000);
    await page.fill("#range-start", from);
    await page.fill("#range-end", to);
    let r = await reloadVia(() => page.click("#range-apply"));
    assert.equal(param(r.request(), "start"), new Date(`${from}:00Z`).toISOString());
    assert.equal(param(r.request(), "end"), new Date(`${to}:00Z`).toISOString());
    assert.equal(await page.getAttribute("#range-btn", "aria-pressed"), "true");
    assert.equal(await page.getAttribute('#f-hours [data-hours="24"]', "aria-pressed"), "false");
    assert.match(await page.textContent("#range-btn"), /→/);
    assert.equal(await page.textContent("#kpi-total .kpi-sub"), "in the range");
    assert.match(page.url(), /start=/);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-range.png") });
    // A link keeps the range.
    r = await reloadVia(() => page.reload());
    assert.equal(param(r.request(), "start"), new Date(`${from}:00Z`).toISOString());
    // An end before the start is refused in the form; a start before retention is held, and said.
    await page.click("#range-btn");
    await page.fill("#range-start", to);
    await page.fill("#range-end", from);
    await page.click("#range-apply");
    assert.match(await page.textContent("#range-note"), /end must be after the start/);
    await page.fill("#range-start", day(Date.now() - 60 * 86_400_000));
    assert.equal(await page.$eval("#range-start", (i) => i.validity.rangeUnderflow), true, "the form offers no time the plan has purged");
    await page.click("#range-cancel");
    const link = new URL(page.url());
    link.search = `?start=${new Date(Date.now() - 60 * 86_400_000).toISOString()}`;
    r = await reloadVia(() => page.goto(link.href));
    assert.equal(param(r.request(), "end"), null, "no end: up to now");
    await page.waitForSelector("#banner.info:not([hidden])");
    assert.match(await page.textContent("#banner-text"), /this plan keeps 30 days/);
    // Back to the last 24 hours.
    r = await reloadVia(() => page.click('#f-hours [data-hours="24"]'));
    assert.equal(param(r.request(), "start"), null);
    assert.equal(await page.textContent("#range-btn"), "Custom");
    assert.doesNotMatch(page.url(), /start=/);
  });

  test("resolve calls PATCH /alerts/:id and updates the row", async () => {
    const row = page.locator("#anomalies tr.anomaly", { has: page.locator(".act-resolve") }).first();
    assert.equal(await row.count(), 1, NO_OPEN_ANOMALY);
    const id = await row.getAttribute("data-id");
    const btn = row.locator(".act-resolve");
    const req = page.waitForRequest((r) => r.method() === "PATCH");
    await btn.click();
    const patch = await req;
    assert.equal(new URL(patch.url()).pathname, `/alerts/${id}`);
    assert.deepEqual(patch.postDataJSON(), { action: "resolve" });
    assert.equal(patch.headers()["x-api-key"], undefined, "no key: the session cookie");
    assert.match(patch.headers()["x-csrf-token"] ?? "", /^[0-9a-f]{64}$/, "a change carries the session's CSRF token");
    const done = page.locator(`#anomalies tr.anomaly[data-id="${id}"] .status.st-resolved`);
    await done.waitFor();
    assert.equal(await page.locator(`#anomalies tr.anomaly[data-id="${id}"] .act-resolve`).count(), 0);
    // The next read agrees with the server: a resolved alert is no longer an open threat, so
    // it leaves the list and the counts; "Include closed" brings it back, resolved.
    const before = Number((await page.textContent("#threats-total")).replace(/\D/g, ""));
    await reloadVia(() => page.click("#refresh"));
    assert.equal(await page.locator(`#anomalies tr.anomaly[data-id="${id}"]`).count(), 0, "closed: not an open threat");
    assert.equal(Number((await page.textContent("#threats-total")).replace(/\D/g, "")), before - 1);
    const all = await reloadVia(() => page.click("#closed-toggle"));
    assert.equal(param(all.request(), "anomaly_status"), "all");
    assert.equal(await page.getAttribute("#closed-toggle", "aria-pressed"), "true");
    await done.waitFor();
    assert.equal(await page.textContent("#kpi-critical .kpi-label"), "Critical threats");
    assert.match(await page.textContent("#kpi-critical .kpi-sub"), /anomalies, closed included/);
    assert.equal(await page.textContent("#threats-unit"), "anomalies");
    assert.match(page.url(), /closed=1/);
    const open = await reloadVia(() => page.click("#closed-toggle"));
    assert.equal(param(open.request(), "anomaly_status"), "active");
    assert.equal(await page.textContent("#threats-unit"), "open");
  });

  test("a failed action shows the API's error message (403 on Free plans)", async () => {
    const row = page.locator("#anomalies tr.anomaly", { has: page.locator(".act-safe") }).first();
    assert.equal(await row.count(), 1, NO_OPEN_ANOMALY);
    const id = await row.getAttribute("data-id");
    const btn = row.locator(".act-safe");
    const message = "Alert management requires the Pro plan or higher";
    await page.route("**/alerts/**", (route) => route.fulfill({
      status: 403,
      contentType: "application/json",
      body: JSON.stringify({
        success: false, error: { code: "PLAN_RESTRICTED", message, required_plan: "pro" }, code: "PLAN_RESTRICTED", message,
      }),
    }));
    const req = page.waitForRequest((r) => r.method() === "PATCH");
    await btn.click();
    assert.deepEqual((await req).postDataJSON(), { action: "mark_safe" });
    const err = page.locator(`#anomalies tr.anomaly[data-id="${id}"] .row-error`);
    await err.waitFor();
    assert.equal(await err.textContent(), `403: ${message}`);
    assert.equal(await page.locator(`#anomalies tr.anomaly[data-id="${id}"] .act-safe`).count(), 1, "still actionable");
    await page.unroute("**/alerts/**");
  });

  test("on Free the anomalies say actions need Pro instead of offering buttons the API refuses", async () => {
    await page.route("**/ui/mock-data**", async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, headers: { ...res.headers(), "x-litesoc-plan": "free" } });
    });
    await reloadVia(() => page.click("#refresh"));
    const open = page.locator("#anomalies tr.anomaly:not(.closed)");
    assert.ok(await open.count() > 0, NO_OPEN_ANOMALY);
    assert.equal(await page.locator("#anomalies .act-resolve, #anomalies .act-safe, #anomalies .act-ack").count(), 0, "no action buttons");
    assert.equal(await open.first().locator(".plan-note").textContent(), "Actions need Pro");
    assert.match(await open.first().locator(".status").getAttribute("title"), /need the Pro plan/);
    await open.first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-free.png") });
    await page.unroute("**/ui/mock-data**");
    await reloadVia(() => page.click("#refresh"));
    assert.ok(await page.locator("#anomalies .act-resolve").count() > 0, "Pro: the buttons are back");
  });

  test("an organisation that has sent nothing gets a first-run panel with this Worker's own snippets", async () => {
    const empty = {
      ...expected, logs: [], anomalies: [], iamChanges: [], topAttackers: [],
      stats: Object.fromEntries(Object.keys(expected.stats).map((k) => [k, 0])),
      threatDistribution: expected.threatDistribution.map((d) => ({ ...d, count: 0 })),
    };
    await page.route("**/ui/mock-data**", (route) => route.fulfill({
      status: 200, contentType: "application/json", headers: { "X-LiteSOC-Plan": "pro" }, body: JSON.stringify(empty),
    }));
    await page.route("**/health", (route) => route.fulfill({
      status: 200, contentType: "application/json", body: JSON.stringify({ status: "ok", quota: { used: 0, limit: 50000 } }),
    }));
    await reloadVia(() => page.click("#refresh"));
    await page.waitForSelector("#first-run:not([hidden])");
    const origin = await page.evaluate(() => location.origin);
    const curl = await page.textContent("#first-run-curl");
    assert.ok(curl.startsWith(`curl -X POST ${origin}/collect`), curl);
    assert.match(curl, /X-API-Key: \$LITESOC_API_KEY/);
    assert.match(await page.textContent("#first-run-node"), new RegExp(`baseUrl: "${origin}"`));
    assert.match(await page.textContent("#first-run-python"), new RegExp(`base_url="${origin}"`));
    assert.match(await page.textContent("#first-run-logs"), /\/loki\/api\/v1\/push/);
    assert.match(await page.textContent("#first-run-logs"), new RegExp(`${origin}/webhooks/auth0\\?api_key=`));
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-first-run.png") });
    await page.unroute("**/ui/mock-data**");
    await page.unroute("**/health");
    await reloadVia(() => page.click("#refresh"));
    assert.equal(await page.isHidden("#first-run"), true, "gone once there is data");
  });

  test("one click from a top attacker to its raw lines; pivots, and a link that reopens the panel", async () => {
    const attacker = expected.topAttackers[0];
    assert.ok(attacker, "the fixture has attackers");
    await page.click(`#attackers tr[data-pivot="ip:${attacker.sourceIp}"]`);
    await page.waitForSelector("#drill:not([hidden])");
    assert.equal(await page.textContent("#drill-title"), `IP ${attacker.sourceIp}`);
    await page.waitForFunction(() => !document.querySelector("#drill-lines li.muted")?.textContent?.startsWith("Loading"));
    const lines = await page.$$eval("#drill-lines code.drill-line", (els) => els.map((e) => e.textContent));
    const raw = expected.logs.filter((l) => /^\d+-\d+$/.test(l.id) && l.sourceIp === attacker.sourceIp);
    assert.equal(lines.length, Math.min(raw.length, 50), JSON.stringify(lines));
    const items = await page.$$eval("#drill-items li", (els) => els.length);
    assert.ok(items >= Math.min(1, raw.length), "the window's items of the IP");
    assert.equal(await page.evaluate(() => location.hash), `#pivot=${encodeURIComponent(`ip:${attacker.sourceIp}`)}`);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-drilldown.png") });

    // A pivot chip re-opens the panel on another subject of the same items.
    const chip = page.locator("#drill-pivots .chip").first();
    if (await chip.count()) {
      const target = await chip.getAttribute("data-pivot");
      await chip.click();
      await page.waitForFunction((t) => decodeURIComponent(location.hash) === `#pivot=${t}`, target);
    }

    // "Filter the page by this IP" refilters every section; the header shows it as a chip that
    // removes it, and the address keeps it.
    await page.click(`#attackers tr[data-pivot="ip:${attacker.sourceIp}"]`);
    await page.waitForFunction((t) => document.querySelector("#drill-title")?.textContent === t, `IP ${attacker.sourceIp}`);
    assert.equal(await page.textContent("#drill-filter"), "Filter the page by this IP");
    let r = await reloadVia(() => page.click("#drill-filter"));
    assert.equal(param(r.request(), "source_ip"), attacker.sourceIp);
    assert.equal(await page.textContent("#f-pivots .page-pivot"), `IP: ${attacker.sourceIp} ✕`);
    assert.match(page.url(), new RegExp(`[?&]ip=${encodeURIComponent(attacker.sourceIp).replace(/\./g, "\\.")}`));
    const shown = await page.$$eval("#anomalies tr.anomaly", (rows) => rows.length);
    assert.equal(shown, expected.anomalies.filter((a) => a.sourceIp === attacker.sourceIp).length, "the anomalies naming the IP");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-pivot.png") });
    r = await reloadVia(() => page.click("#f-pivots .page-pivot"));
    assert.equal(param(r.request(), "source_ip"), null);
    assert.equal(await page.locator("#f-pivots .page-pivot").count(), 0);
    await page.click("#drill-close");

    // The link reopens the same panel.
    const link = `${BASE}/?#pivot=${encodeURIComponent(`ip:${attacker.sourceIp}`)}`;
    await reloadVia(() => page.goto(link));
    await page.waitForSelector("#drill:not([hidden])");
    assert.equal(await page.textContent("#drill-title"), `IP ${attacker.sourceIp}`);
    await page.click("#drill-close");
    assert.equal(await page.isHidden("#drill"), true);
    assert.equal(await page.evaluate(() => location.hash), "");
  });

  test("refreshes every 30 s", async () => {
    const r = await reloadVia(() => page.clock.fastForward(30_000));
    assert.equal(r.status(), 200);
    assert.equal(param(r.request(), "hours"), "24");
  });

  test("the live stream can be paused", async () => {
    const firstKey = () => page.getAttribute("#stream li.ev", "data-key");
    const before = await firstKey();
    await page.click("#stream-toggle");
    assert.equal(await page.getAttribute("#stream-toggle", "aria-pressed"), "true");
    let fresh = null;
    if (!REAL) {
      fresh = {
        id: "999-1769774400", type: "login_failure", sourceIp: "203.0.113.45", timestamp: "2026-01-30T12:00:00Z",
        user: "admin", _metadata: { severity: "warning", service: "auth-service", namespace: "prod", status_code: 401 },
      };
      server.data.logs.unshift(fresh);
    }
    await reloadVia(() => page.click("#refresh"));
    assert.equal(await firstKey(), before, "paused: the list does not move");
    if (!REAL) assert.match(await page.textContent("#stream-toggle"), /1 new/);
    await page.click("#stream-toggle");
    assert.equal(await page.getAttribute("#stream-toggle", "aria-pressed"), "false");
    if (!REAL) {
      assert.equal(await firstKey(), `l:${fresh.id}`, "resumed: the new event is on top");
      server.data.logs.shift();
    }
  });

  test("readable at 1280×800 and at phone width without horizontal overflow", async () => {
    const overflow = () => page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > w + 0.5 && !e.closest(".table-wrap, .chart")) // both clip
        .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`);
      return { scroll: document.documentElement.scrollWidth, width: w, wide };
    });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(700); // chart animations
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-1280x800.png") });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-1280-full.png"), fullPage: true });
    let o = await overflow();
    assert.ok(o.scroll <= o.width && o.wide.length === 0, JSON.stringify(o));

    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(900); // resize observers and the narrow re-render
    o = await overflow();
    assert.ok(o.scroll <= o.width && o.wide.length === 0, JSON.stringify(o));
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-390x844.png") });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-390-full.png"), fullPage: true });
    // charts re-laid out to the narrow width
    const w = await page.$eval("#chart-flow canvas", (c) => c.getBoundingClientRect().width);
    assert.ok(w <= 390, `sankey canvas ${w}px`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test("an error banner stays in view below the top bar while the page scrolls", async () => {
    const message = "Rate limit exceeded";
    await page.route("**/ui/mock-data**", (route) => route.fulfill({
      status: 429, contentType: "application/json", headers: { "Retry-After": "7" },
      body: JSON.stringify({ success: false, error: { code: "RATE_LIMITED", message }, code: "RATE_LIMITED", message }),
    }));
    await reloadVia(() => page.click("#refresh"));
    await page.unroute("**/ui/mock-data**");
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForTimeout(200);
    const place = await page.evaluate(() => {
      const b = document.querySelector("#banner").getBoundingClientRect();
      const bar = document.querySelector(".topbar").getBoundingClientRect();
      return { top: b.top, bottom: b.bottom, barBottom: bar.bottom, height: window.innerHeight, scrolled: window.scrollY };
    });
    assert.ok(place.scrolled > 200, JSON.stringify(place));
    assert.ok(place.top >= place.barBottom && place.bottom <= place.height, `banner in view below the bar: ${JSON.stringify(place)}`);
    assert.match(await page.textContent("#banner-text"), /Rate limit exceeded \(retry in 7s\)/);
    await reloadVia(() => page.click("#refresh"));
    assert.equal(await page.isHidden("#banner"), true, "gone once the API answers");
    await page.evaluate(() => window.scrollTo(0, 0));
  });

  test("the Sankey grows with its busiest layer, and anomaly text wraps between words", async () => {
    const perLayer = {};
    for (const node of expected.networkFlow.sankeyData.nodes) perLayer[node.layer] = (perLayer[node.layer] ?? 0) + 1;
    const busiest = Math.max(...Object.values(perLayer));
    const height = await page.$eval("#chart-flow", (e) => e.getBoundingClientRect().height);
    assert.ok(height >= Math.max(440, busiest * 20), `${height}px for ${busiest} nodes in one layer`);
    const wraps = await page.$$eval("#anomalies .col-desc .title, #anomalies .col-desc .desc",
      (els) => els.map((e) => getComputedStyle(e).overflowWrap + " " + getComputedStyle(e).wordBreak));
    assert.ok(wraps.length > 0 && wraps.every((w) => w === "break-word normal"), JSON.stringify(wraps.slice(0, 3)));
  });

  test("no script errors, CSP violations or dialogs", () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(dialogs, []);
  });
});

describe("dashboard sources", () => {
  test("never build HTML from strings", () => {
    const dir = join(ROOT, "dashboard", "src");
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    assert.ok(files.length >= 5);
    for (const f of files) {
      const src = readFileSync(join(dir, f), "utf8").replace(/\/\/.*$/gm, "");
      assert.doesNotMatch(src, /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|createContextualFragment/, f);
    }
  });
});
