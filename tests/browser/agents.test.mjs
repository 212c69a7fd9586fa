// The dashboard's "Agents" card (dashboard/src/agents.ts) in headless Chromium, against the fake
// Worker of server.mjs, whose `GET /agents` lists two online hosts and a stale one (one reporting
// a hostile line, one with no address, version or lines): rows and badges as the data says, the
// stale count in the head, the recent lines as text on expand, one read per refresh (and on the
// 30 s poll), the empty state and an API error shown in the card.
//
//   scripts/build-dashboard && node --test tests/browser/agents.test.mjs
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./chromium.mjs";
import { sampleAgents, startFakeServer, TEST_KEY } from "./server.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PUBLIC = join(ROOT, "public");
const ARTIFACTS = join(ROOT, "tests", "artifacts");
const XSS = "<img src=x onerror=alert(1)>";

let server, ctx, page, closeChromium;
const dialogs = [];
const pageErrors = [];

const agentReads = () => server.requests.filter((r) => r.path === "/agents").length;
const isAgents = (r) => new URL(r.url()).pathname === "/agents";
const row = (host) => page.locator(`#agents tr.agent[data-hostname="${host}"]`);
const cellText = (host, cls) => row(host).locator(`td.${cls}`).textContent();

/** Runs `action` and waits for the card to be redrawn from the `GET /agents` it causes. */
async function agentsVia(action) {
  const resp = page.waitForResponse(isAgents);
  await action();
  const r = await resp;
  await page.waitForFunction(() => !document.querySelector("#agents tbody")?.textContent?.includes("Loading"));
  await page.waitForTimeout(50); // the response body is parsed and rendered after the response event
  return r;
}

describe("agents card", { concurrency: false }, () => {
  before(async () => {
    assert.ok(existsSync(join(PUBLIC, "index.html")), "public/index.html missing: run scripts/build-dashboard");
    const fixture = JSON.parse(readFileSync(new URL("./fixture.json", import.meta.url), "utf8"));
    server = await startFakeServer({ publicDir: PUBLIC, fixture });
    mkdirSync(ARTIFACTS, { recursive: true });
    // The card must show UTC whatever the browser's zone.
    ({ context: ctx, close: closeChromium } = await launchChromium({ timezoneId: "America/Los_Angeles" }));
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.setDefaultTimeout(10_000);
    page.on("dialog", (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    await closeChromium?.();
    await server?.close();
  });

  test("lists the agents with their state, address, version and times; the head counts the stale ones", async () => {
    await page.clock.install(); // lets the last test fast-forward to the 30 s refresh
    await page.goto(`${server.url}/`);
    await page.waitForSelector("#key-dialog[open]");
    await page.fill("#key-input", TEST_KEY);
    const r = await agentsVia(() => page.click("#key-submit"));
    assert.equal(r.status(), 200);
    assert.match((await r.request().allHeaders()).cookie ?? "", /edgesoc_session=/, "read with the session cookie");
    assert.equal(agentReads(), 1, "one read on load");

    assert.deepEqual(await page.$$eval("#agents tr.agent", (rows) => rows.map((tr) => tr.dataset.hostname)), ["web-1", "db-1", "backup-1"]);
    assert.equal(await page.textContent("#agents-meta"), "3 agents · 1 stale");
    assert.equal(await page.textContent("#agents-sub"), "litesoc-agent hosts · stale after 6 min without a heartbeat");

    const data = server.agents.list;
    for (const [host, state] of [["web-1", "Online"], ["db-1", "Online"], ["backup-1", "Stale"]]) {
      const a = data.find((x) => x.hostname === host);
      const badge = row(host).locator(".agent-state");
      assert.equal(await badge.textContent(), state, host);
      assert.equal(await badge.getAttribute("class"), `agent-state agent-${state.toLowerCase()}`);
      const title = await badge.getAttribute("title");
      assert.match(title, /6 minutes/, `${host}: the title gives the 6-minute rule`);
      assert.match(title, state === "Online" ? /^Last heartbeat \w{3} \d+ \d\d:\d\d:\d\d UTC, / : /^No heartbeat since .* UTC, /);
      assert.equal(await cellText(host, "c-host"), host);
      assert.equal(await cellText(host, "c-ip"), a.ip_address ?? "—");
      assert.equal(await cellText(host, "c-ver"), a.agent_version ?? "—");
      const last = row(host).locator("td.c-last time");
      assert.equal(await last.getAttribute("datetime"), a.last_seen);
      assert.match(await last.getAttribute("title"), /UTC$/);
      assert.equal(await row(host).locator("td.c-first time").getAttribute("datetime"), a.first_seen);
    }
    assert.match(await cellText("web-1", "c-last"), /^\d{2} s ago$/);
    assert.equal(await cellText("db-1", "c-last"), "2 min ago");
    assert.equal(await cellText("backup-1", "c-last"), "12 min ago");
    assert.equal(await row("backup-1").getAttribute("class"), "agent is-stale");
    // First seen in UTC (the browser is in Los Angeles).
    const first = new Date(data[2].first_seen);
    const hhmm = `${String(first.getUTCHours()).padStart(2, "0")}:${String(first.getUTCMinutes()).padStart(2, "0")}`;
    assert.ok((await cellText("backup-1", "c-first")).endsWith(hhmm), "first seen in UTC");
  });

  test("the recent lines open as text: a hostile line injects nothing", async () => {
    assert.equal(await row("db-1").locator(".agent-toggle").isDisabled(), true, "no lines: nothing to open");
    assert.equal(await row("db-1").locator(".agent-toggle").textContent(), "No lines");
    const toggle = row("web-1").locator(".agent-toggle");
    assert.equal(await toggle.textContent(), "Show 3 lines");
    await toggle.click();
    assert.equal(await row("web-1").locator(".agent-toggle").getAttribute("aria-expanded"), "true");
    const lines = page.locator("#agents tr.agent-lines-row code");
    assert.deepEqual(await lines.allTextContents(), server.agents.list[0].recent_logs);
    assert.ok((await lines.nth(1).textContent()).includes(XSS), "the hostile line is shown as it was received");
    assert.equal(await page.locator("#card-agents img, #card-agents svg, #card-agents script").count(), 0, "no element injected");
    assert.match(await page.textContent("#agents tr.agent-lines-row .agent-lines-head"), /^Last 3 lines read by web-1, as received · 1,204 heartbeats$/);
    assert.equal(await page.evaluate(() => document.activeElement?.closest("tr")?.dataset.hostname), "web-1", "focus stays on the button");

    // A refresh reads the list once and keeps the lines open.
    const before = agentReads();
    await agentsVia(() => page.click("#refresh"));
    await page.waitForSelector("#status-dot.ok");
    await page.waitForTimeout(300);
    assert.equal(agentReads() - before, 1, "one GET /agents per refresh");
    assert.equal(await lines.count(), 3, "still open after the refresh");

    await page.locator("#card-agents").scrollIntoViewIfNeeded();
    await page.locator("#card-agents").screenshot({ path: join(ARTIFACTS, "dashboard-agents.png") });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const card = document.querySelector("#card-agents");
      return { scroll: document.documentElement.scrollWidth, width: w, card: card.getBoundingClientRect().right, table: document.querySelector("#agents").scrollWidth };
    });
    assert.ok(overflow.scroll <= overflow.width && overflow.card <= overflow.width, JSON.stringify(overflow));
    await page.locator("#card-agents").screenshot({ path: join(ARTIFACTS, "dashboard-agents-390.png") });
    await page.setViewportSize({ width: 1280, height: 800 });

    await row("web-1").locator(".agent-toggle").click();
    assert.equal(await lines.count(), 0, "closed again");
    assert.deepEqual(dialogs, [], "no dialog opened");
  });

  test("an organisation without agents gets the install hint", async () => {
    server.agents.list = [];
    await agentsVia(() => page.click("#refresh"));
    await page.waitForFunction(() => document.querySelector("#agents-meta")?.textContent === "0 agents");
    assert.equal(await page.locator("#agents tr.agent").count(), 0);
    const hint = await page.textContent("#agents tr.empty");
    assert.match(hint, /Install the litesoc-agent with this Worker's URL \(.+\) as its API endpoint and an ingest-only key/);
    assert.equal(await page.textContent("#agents tr.empty code"), server.url);
    await page.locator("#card-agents").screenshot({ path: join(ARTIFACTS, "dashboard-agents-empty.png") });
  });

  test("a failed read shows the API's message in the card and the rest of the page carries on", async () => {
    server.agents.list = sampleAgents();
    server.agents.error = { status: 500, code: "INTERNAL_ERROR", message: "The agents could not be read (D1 unavailable)" };
    const r = await agentsVia(() => page.click("#refresh"));
    assert.equal(r.status(), 500);
    const err = page.locator("#agents td.agents-error");
    await err.waitFor();
    assert.equal(await err.textContent(), "Could not read the agents: 500: The agents could not be read (D1 unavailable)");
    assert.equal(await page.textContent("#agents-meta"), "");
    assert.equal(await page.locator("#agents tr.agent").count(), 0, "no outdated states left on screen");
    await page.waitForSelector("#status-dot.ok");
    assert.equal(await page.isHidden("#banner"), true, "not a page error");
    assert.ok(await page.locator("#anomalies tr.anomaly").count() > 0, "the other cards still render");

    // The next good answer brings the list back.
    server.agents.error = null;
    await agentsVia(() => page.click("#refresh"));
    await row("web-1").waitFor();
    assert.equal(await page.textContent("#agents-meta"), "3 agents · 1 stale");
  });

  test("refreshed by the page's 30 s poll, one read each time", async () => {
    const before = agentReads();
    const r = await agentsVia(() => page.clock.fastForward(30_000));
    assert.equal(r.status(), 200);
    await page.waitForTimeout(300);
    assert.equal(agentReads() - before, 1);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
  });
});
