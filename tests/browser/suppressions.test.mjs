// The dashboard's suppression and detection-settings controls in headless Chromium, against the
// real Worker (the e2e harness in workerd, proxied on one origin with the built page), as
// destinations.test.mjs does: create a suppression through the card (field errors from the API
// next to the fields) and delete it; "Mark safe & suppress" from an anomaly row, then the
// suppressed alert under "Show suppressed"; change a detection setting with a bad value, then a
// good one, and reset it; a Free organisation sees Pro notes; hostile strings stay text
// (docs/api.md §12).
//
//   scripts/build --dev && node --test tests/browser/suppressions.test.mjs
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./chromium.mjs";
import { start } from "../e2e/harness.mjs";
import { startProxyServer } from "./server.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ARTIFACTS = join(ROOT, "tests", "artifacts");
const XSS = "<img src=x onerror=alert(1)>";
const XSS2 = "\"><svg onload=alert(2)>";
const BERLIN = { country: "DE", city: "Berlin", latitude: "52.52000", longitude: "13.40500", timezone: "Europe/Berlin", asn: 3320, asOrganization: "Deutsche Telekom AG", colo: "FRA" };

let app, proxy, browser, closeChromium;
const dialogs = [];

async function openAs(apiKey) {
  // Each page signs in afresh: a session cookie of an earlier page would sign it in as that key.
  await browser.clearCookies();
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  page.on("dialog", (d) => {
    dialogs.push(d.type());
    void d.accept();
  });
  await page.goto(proxy.url + "/");
  await page.fill("#key-input", apiKey);
  await page.click("#key-submit");
  await page.waitForSelector("#status-dot.ok");
  return page;
}

const call = async (method, path, key, body) => (await app.request(path, { method, key, body })).body;
const fieldError = (page, card, field) => page.locator(`${card} .field-error[data-error-for="${field}"]`);

before(async () => {
  app = await start({ listen: true, shards: [] });
  proxy = await startProxyServer({ publicDir: join(ROOT, "public"), target: app.url });
  ({ context: browser, close: closeChromium } = await launchChromium({ viewport: { width: 1280, height: 900 } }));
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await closeChromium?.();
  await proxy?.close();
  await app?.dispose();
});

test("create a suppression through the card (the API's field errors beside the fields), then delete it", async () => {
  const key = await app.createKey({ org: "Browser Sup", plan: "pro" });
  const page = await openAs(key);
  await page.waitForSelector("#suppressions-meta:has-text('0 active')");
  await page.click("#sup-add-toggle");
  await page.selectOption("#sup-scope", "cidr");
  await page.fill("#sup-value", "10.0.0.0/7");
  await page.click("#sup-submit");
  await fieldError(page, "#card-suppressions", "value").waitFor();
  assert.match(await fieldError(page, "#card-suppressions", "value").textContent(), /broader than \/8/);
  assert.match(await fieldError(page, "#card-suppressions", "reason").textContent(), /required|empty/);
  await page.locator("#card-suppressions").screenshot({ path: join(ARTIFACTS, "suppression-form.png") });

  await page.fill("#sup-value", "198.51.100.77/24");
  await page.fill("#sup-reason", "pentest vendor");
  await page.click("#card-suppressions .type-picker summary");
  await page.check("#card-suppressions input[value=account_compromise]");
  await page.check("#card-suppressions input[value=suspicious_network]");
  await page.selectOption("#sup-expiry", "1d");
  await page.click("#sup-submit");
  await page.waitForSelector("#suppressions tbody tr[data-id]");
  assert.equal(await fieldError(page, "#card-suppressions", "value").isHidden(), true, "the error is cleared");
  const row = page.locator("#suppressions tbody tr[data-id]");
  assert.match(await row.textContent(), /Network.*198\.51\.100\.0\/24.*Account compromise, Suspicious network.*pentest vendor/);
  assert.match(await row.locator(".sup-by").textContent(), new RegExp(`^${key.slice(0, 14)}$`), "who created it");

  const [stored] = (await call("GET", "/suppressions", key)).data;
  assert.equal(stored.id, await row.getAttribute("data-id"));
  assert.deepEqual([stored.scope, stored.value, stored.alert_types, stored.reason],
    ["cidr", "198.51.100.0/24", ["account_compromise", "suspicious_network"], "pentest vendor"]);
  const inADay = Date.parse(stored.expires_at) - Date.now();
  assert.ok(inADay > 86_000_000 && inADay <= 86_400_000, `expires in a day: ${stored.expires_at}`);

  // A country by its code, no expiry: the card shows its name.
  await page.click("#sup-add-toggle");
  await page.selectOption("#sup-scope", "country");
  await page.fill("#sup-value", "nl");
  assert.equal(await page.textContent("#sup-value-hint"), "Netherlands");
  await page.fill("#sup-reason", "our office");
  await page.selectOption("#sup-expiry", "none");
  await page.click("#sup-submit");
  await page.waitForSelector("#suppressions-meta:has-text('2 active')");
  assert.match(await page.textContent("#suppressions tbody tr:first-child"), /Netherlands \(NL\).*All types.*Never/);

  // Delete (after the confirmation) the CIDR one; "include expired" shows it as deleted.
  await page.locator(`#suppressions tr[data-id="${stored.id}"] .sup-delete`).click();
  await page.waitForSelector("#suppressions-meta:has-text('1 active')");
  assert.ok(dialogs.includes("confirm"), "asked first");
  assert.equal((await call("GET", `/suppressions/${stored.id}`, key)).data.status, "deleted");
  await page.check("#sup-include-expired");
  await page.waitForSelector("#suppressions-meta:has-text('1 ended')");
  assert.match(await page.textContent(`#suppressions tr[data-id="${stored.id}"]`), new RegExp(`Deleted by ${key.slice(0, 14)}`));
  assert.equal(await page.locator(`#suppressions tr[data-id="${stored.id}"] .sup-delete`).count(), 0);
  await page.locator("#card-suppressions").screenshot({ path: join(ARTIFACTS, "suppressions.png") });
  await page.close();
});

test("mark safe & suppress from an anomaly row: scopes from the alert, one call, then the suppressed alert on demand", async () => {
  const key = await app.createKey({ org: "Browser Mark", plan: "pro" });
  const ip = "192.0.2.44";
  const event = { event: "admin.privilege_escalation", actor: "deploy-bot", user_ip: ip };
  assert.equal((await app.collectFrom(key, event, ip, BERLIN)).status, 202);
  const alert = await app.eventually(async () => (await call("GET", "/alerts", key)).data[0]);
  assert.ok(alert, "alert raised");

  const page = await openAs(key);
  const row = page.locator(`#anomalies tr.anomaly[data-id="${alert.id}"]`);
  await row.locator(".act-suppress").click();
  await page.waitForSelector("#ms-dialog[open]");
  await page.waitForSelector("#ms-scopes [data-scope=country]");
  const scopes = await page.locator("#ms-scopes label").allTextContents();
  assert.deepEqual(scopes.map((s) => s.replace(/\s+/g, " ").trim()), [
    `Its IP ${ip}`, "Its network", "Its actor deploy-bot", "Its ASN AS3320 Deutsche Telekom AG", "Its country Germany (DE)",
  ]);
  assert.equal(await page.inputValue("#ms-cidr"), "192.0.2.0/24");
  assert.deepEqual(await page.locator("#ms-form .type-list input:checked").evaluateAll((b) => b.map((x) => x.value)), ["privilege_escalation"]);

  // A network that does not hold the alert's IP: the API's error beside the field; nothing changes.
  await page.check("#ms-scopes input[value=cidr]");
  await page.fill("#ms-cidr", "198.51.100.0/24");
  await page.click("#ms-submit");
  await fieldError(page, "#ms-dialog", "value").waitFor();
  assert.match(await fieldError(page, "#ms-dialog", "value").textContent(), /contain the alert's source IP/);
  await page.locator("#ms-dialog").screenshot({ path: join(ARTIFACTS, "mark-safe-suppress.png") });
  assert.equal((await call("GET", `/alerts/${alert.id}`, key)).data.status, "open");

  await page.check("#ms-scopes input[value=ip]");
  await page.fill("#ms-reason", "CI runner");
  await page.selectOption("#ms-expiry", "1h");
  await page.click("#ms-submit");
  await page.waitForSelector("#ms-dialog:not([open])", { state: "attached" });
  await row.locator(".st-safe").waitFor();
  await page.waitForSelector("#banner.info:has-text('Suppressing IP 192.0.2.44 until')");
  await page.waitForSelector("#suppressions-meta:has-text('1 active')");

  const sups = (await call("GET", "/suppressions", key)).data;
  assert.equal(sups.length, 1);
  assert.deepEqual([sups[0].scope, sups[0].value, sups[0].alert_types, sups[0].reason],
    ["ip", ip, ["privilege_escalation"], "CI runner"]);
  assert.ok(Math.abs(Date.parse(sups[0].expires_at) - Date.now() - 3_600_000) < 120_000, "in an hour");
  assert.equal((await call("GET", `/alerts/${alert.id}`, key)).data.status, "safe");

  // The next alert from the address is suppressed: not an anomaly, but listed on demand.
  assert.equal((await app.collectFrom(key, { ...event, actor: "deploy-bot-2" }, ip, BERLIN)).status, 202);
  const quiet = await app.eventually(async () => (await call("GET", "/alerts?status=suppressed", key)).data[0]);
  assert.equal(quiet?.suppressed_by, sups[0].id);
  await page.click("#refresh");
  await page.waitForSelector("#status-dot.ok");
  assert.equal(await page.locator(`#anomalies tr[data-id="${quiet.id}"]`).count(), 0, "not among the anomalies");
  await page.click("#suppressed-toggle");
  const listed = page.locator(`#suppressed-alerts tr[data-id="${quiet.id}"]`);
  await listed.waitFor();
  assert.match(await listed.textContent(), /Privilege escalation.*deploy-bot-2.*192\.0\.2\.44.*Open.*IP 192\.0\.2\.44 — CI runner/);
  await page.locator("#card-anomalies").screenshot({ path: join(ARTIFACTS, "suppressed-alerts.png") });
  await page.close();
});

test("a viewer signs in without a key in the page and is offered no action the API would refuse", async () => {
  const admin = await app.createKey({ org: "Browser Viewer", plan: "pro" });
  const viewer = await app.createKey({ org: "Browser Viewer", plan: "pro", name: "intern", scopes: ["read"] });
  assert.equal((await app.collect(admin, { event: "admin.privilege_escalation", actor: "eve", user_ip: "192.0.2.45" })).status, 202);
  const alert = await app.eventually(async () => (await call("GET", "/alerts", admin)).data[0]);
  const page = await openAs(viewer);
  const row = page.locator(`#anomalies tr.anomaly[data-id="${alert.id}"]`);
  await row.waitFor();
  assert.equal(await row.locator("button.act-resolve, button.act-safe, button.act-ack, button.act-suppress").count(), 0);
  assert.match(await row.locator(".col-act .status").getAttribute("title"), /viewer/);
  assert.match(await page.getAttribute("#key-btn", "title"), /intern .*viewer/);
  const stored = await page.evaluate(() => JSON.stringify([{ ...sessionStorage }, { ...localStorage }, document.cookie]));
  assert.ok(!stored.includes(viewer), "no key in the page");
  await page.click("#key-btn"); // sign out
  await page.waitForSelector("#key-dialog[open]");
  assert.equal((await browser.cookies()).filter((c) => c.name === "edgesoc_session" && c.value).length, 0, "the cookie is cleared");
  await page.close();
});

test("detection settings: a bad value shows the API's range error, a good one is saved with who and why, and resets", async () => {
  const key = await app.createKey({ org: "Browser Settings", plan: "pro" });
  const page = await openAs(key);
  await page.waitForSelector("#set-changed:has-text('Never changed')");
  assert.equal(await page.inputValue("#set-brute_force_ip-threshold"), "5");
  assert.equal(await page.textContent("tr[data-field='brute_force_ip.threshold'] td:nth-child(3)"), "5 logins", "the default beside it");
  assert.equal(await page.textContent("tr[data-field='travel.min_speed_kmh'] td:nth-child(4)"), "100–2,000");
  assert.equal(await page.isDisabled("tr[data-field='brute_force_ip.threshold'] .set-reset"), true, "nothing to reset");

  await page.fill("#set-brute_force_ip-threshold", "1");
  await page.fill("#set-travel-min_speed_kmh", "99");
  await page.click("#set-save");
  await fieldError(page, "#card-settings", "brute_force_ip.threshold").waitFor();
  assert.match(await fieldError(page, "#card-settings", "brute_force_ip.threshold").textContent(), /integer from 2 to 1000/);
  assert.match(await fieldError(page, "#card-settings", "travel.min_speed_kmh").textContent(), /number from 100 to 2000/);
  assert.equal((await call("GET", "/settings/detection", key)).data.updated_at, null, "nothing stored");

  await page.fill("#set-brute_force_ip-threshold", "8");
  await page.fill("#set-travel-min_speed_kmh", "950.5");
  await page.fill("#set-blocklist", "kp, ir");
  assert.equal(await page.textContent("#set-blocklist-names"), "North Korea (KP), Iran (IR)");
  await page.fill("#set-reason", "tuning for our SSO");
  await page.click("#set-save");
  await page.waitForSelector("#set-saved:has-text('Saved')");
  assert.equal(await fieldError(page, "#card-settings", "brute_force_ip.threshold").isHidden(), true);
  const s = (await call("GET", "/settings/detection", key)).data;
  assert.deepEqual([s.brute_force_ip, s.travel.min_speed_kmh, s.country_blocklist, s.reason, s.updated_by],
    [{ threshold: 8, window_minutes: 5 }, 950.5, ["KP", "IR"], "tuning for our SSO", key.slice(0, 14)]);
  assert.equal(await page.textContent("#set-by"), key.slice(0, 14));
  assert.equal(await page.textContent("#set-why"), "tuning for our SSO");
  assert.equal(await page.inputValue("#set-blocklist"), "KP, IR");

  // Reset one setting to its default (null in the merge patch); the others stay.
  await page.click("tr[data-field='brute_force_ip.threshold'] .set-reset");
  await page.waitForFunction(() => document.querySelector("#set-brute_force_ip-threshold").value === "5");
  const r = (await call("GET", "/settings/detection", key)).data;
  assert.deepEqual([r.brute_force_ip.threshold, r.travel.min_speed_kmh, r.country_blocklist], [5, 950.5, ["KP", "IR"]]);
  assert.equal(await page.isDisabled("tr[data-field='brute_force_ip.threshold'] .set-reset"), true);
  await page.click("tr[data-field='country_blocklist'] .set-reset");
  await page.waitForFunction(() => document.querySelector("#set-blocklist").value === "");
  assert.deepEqual((await call("GET", "/settings/detection", key)).data.country_blocklist, []);
  await page.locator("#card-settings").screenshot({ path: join(ARTIFACTS, "settings.png") });
  await page.close();
});

test("a Free organisation sees Pro notes, not errors", async () => {
  const key = await app.createKey({ org: "Browser Sup Free", plan: "free" });
  const page = await openAs(key);
  await page.waitForSelector("#sup-note:not([hidden])");
  assert.match(await page.textContent("#sup-note"), /need the Pro plan/);
  assert.equal(await page.isDisabled("#sup-add-toggle"), true);
  await page.waitForSelector("#set-note:not([hidden])");
  assert.match(await page.textContent("#set-note"), /Pro plan/);
  assert.equal(await page.isHidden("#set-form"), true);
  await page.click("#suppressed-toggle");
  await page.waitForSelector("#suppressed-alerts:has-text('needs the Pro plan')");
  await page.close();
});

test("hostile strings in reasons, actors and settings render as text", async () => {
  const key = await app.createKey({ org: "Browser Sup XSS", plan: "pro" });
  assert.equal((await app.request("/suppressions", { method: "POST", key, body: { scope: "actor", value: XSS2, reason: XSS } })).status, 201);
  assert.equal((await app.request("/settings/detection", { method: "PATCH", key, body: { travel: { min_distance_km: 600 }, reason: XSS2 } })).status, 200);
  const ip = "203.0.113.99";
  assert.equal((await app.collect(key, { event: "admin.privilege_escalation", actor: XSS, user_ip: ip })).status, 202);
  const alert = await app.eventually(async () => (await call("GET", "/alerts", key)).data[0]);
  const before = dialogs.length;
  const page = await openAs(key);
  await page.waitForSelector("#suppressions tbody tr[data-id]");
  assert.equal(await page.textContent("#suppressions .sup-reason"), XSS);
  assert.equal(await page.textContent("#suppressions .sup-value"), XSS2.trim());
  await page.waitForSelector("#set-why");
  assert.equal(await page.textContent("#set-why"), XSS2);
  await page.locator(`#anomalies tr.anomaly[data-id="${alert.id}"] .act-suppress`).click();
  await page.waitForSelector("#ms-scopes [data-scope=actor]");
  assert.equal(await page.textContent("#ms-scopes [data-scope=actor] .mono"), XSS);
  await page.fill("#ms-reason", XSS);
  await page.check("#ms-scopes input[value=actor]");
  await page.click("#ms-submit");
  await page.waitForSelector("#ms-dialog:not([open])", { state: "attached" });
  await page.waitForSelector("#suppressions-meta:has-text('2 active')");
  assert.equal((await call("GET", "/suppressions", key)).data[0].value, XSS);
  for (const card of ["#card-suppressions", "#card-settings", "#card-anomalies", "#ms-dialog", "#banner"]) {
    assert.equal(await page.locator(`${card} img, ${card} svg`).count(), 0, `${card}: no element injected`);
  }
  assert.deepEqual(dialogs.slice(before), [], "no dialog fired");
  await page.close();
});
