// The dashboard's alert-delivery controls in headless Chromium, against the real Worker (the e2e
// harness in workerd, proxied on one origin with the built page): add a webhook destination (its
// secret shown once), send a test alert to a receiver on 127.0.0.1, disable and enable it, read
// the delivery log, acknowledge an alert; a Free organisation sees why delivery needs Pro.
//
//   scripts/build --dev && node --test tests/browser/destinations.test.mjs
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./chromium.mjs";
import { start } from "../e2e/harness.mjs";
import { startProxyServer } from "./server.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ARTIFACTS = join(ROOT, "tests", "artifacts");

let app, proxy, browser, receiver, received, key, freeKey, closeChromium;

async function openAs(apiKey) {
  // Each page signs in afresh: a session cookie of an earlier page would sign it in as that key.
  await browser.clearCookies();
  const page = await browser.newPage();
  page.on("dialog", (d) => void d.accept());
  await page.goto(proxy.url + "/");
  await page.fill("#key-input", apiKey);
  await page.click("#key-submit");
  await page.waitForSelector("#status-dot.ok");
  return page;
}

before(async () => {
  app = await start({ listen: true, shards: [] });
  key = await app.createKey({ org: "Browser Pro", plan: "pro" });
  freeKey = await app.createKey({ org: "Browser Free", plan: "free" });
  received = [];
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.end("ok");
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  proxy = await startProxyServer({ publicDir: join(ROOT, "public"), target: app.url });
  ({ context: browser, close: closeChromium } = await launchChromium({ viewport: { width: 1280, height: 900 } }));
});

after(async () => {
  await closeChromium?.();
  await proxy?.close();
  await new Promise((r) => receiver?.close(r));
  await app?.dispose();
});

test("add a webhook, test it, disable and enable it, and read its delivery log", async () => {
  const page = await openAs(key);
  await page.waitForSelector("#destinations-meta:has-text('0 configured')");
  await page.click("#dest-add-toggle");
  await page.fill("#dest-name", "Browser receiver");
  await page.selectOption("#dest-kind", "webhook");
  await page.fill("#dest-target", `http://127.0.0.1:${receiver.address().port}/hook`);
  await page.selectOption("#dest-severity", "high");
  await page.click("#dest-submit");
  await page.waitForSelector("#dest-secret:not([hidden])");
  const secret = await page.textContent("#dest-secret");
  assert.match(secret, /whsec_[A-Za-z0-9+/=]{44}/, "the signing secret is shown once");
  const row = page.locator("#destinations tbody tr").first();
  assert.match(await row.textContent(), /Browser receiver.*webhook.*high.*Enabled/);

  await row.locator(".dest-test").click();
  await page.waitForSelector(".dest-result:has-text('Delivered: HTTP 200')");
  assert.equal(received.length, 1);
  assert.equal(JSON.parse(received[0].body).type, "alert.test");

  await row.locator(".dest-enable").click();
  await page.waitForSelector("#destinations tbody tr.disabled");
  const stored = await app.request("/destinations", { key });
  assert.equal(stored.body.data[0].enabled, false, "the change reached the API");
  await page.locator("#destinations tbody tr .dest-enable").click();
  await page.waitForSelector("#destinations tbody tr:not(.disabled)");

  await page.locator("#destinations tbody tr .dest-log").click();
  await page.waitForSelector("#deliveries tbody tr.outcome-delivered");
  assert.match(await page.textContent("#deliveries tbody"), /test.*delivered.*200/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator("#card-destinations").screenshot({ path: join(ARTIFACTS, "destinations.png") });

  // A reload shows the destination without its secret.
  await page.reload();
  await page.waitForSelector("#destinations tbody tr");
  assert.ok(!(await page.textContent("#card-destinations")).includes("whsec_"), "the secret is never shown again");
  await page.close();
});

test("an invalid target is refused with the API's message; an alert can be acknowledged", async () => {
  const page = await openAs(key);
  await page.click("#dest-add-toggle");
  await page.fill("#dest-name", "Internal");
  await page.fill("#dest-target", "https://169.254.169.254/latest/meta-data/");
  await page.click("#dest-submit");
  await page.waitForSelector("#dest-form-error:not([hidden])");
  assert.match(await page.textContent("#dest-form-error"), /url/);

  await app.collect(key, { event: "admin.privilege_escalation", actor: "browser-mallory", user_ip: "203.0.113.66" });
  await app.eventually(async () => (await app.request("/alerts", { key })).body.data.length > 0);
  await page.click("#refresh");
  const anomaly = page.locator("#anomalies tbody tr.anomaly").first();
  await anomaly.locator(".act-ack").click();
  await page.waitForSelector("#anomalies .st-acknowledged");
  const alerts = (await app.request("/alerts?status=acknowledged", { key })).body.data;
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].actor_id, "browser-mallory");
  await page.close();
});

test("a Free organisation sees why alert delivery needs Pro, not a failing form", async () => {
  const page = await openAs(freeKey);
  await page.waitForSelector("#dest-note:not([hidden])");
  assert.match(await page.textContent("#dest-note"), /needs the Pro plan/);
  assert.equal(await page.getAttribute("#dest-add-toggle", "disabled"), "");
  await page.close();
});
