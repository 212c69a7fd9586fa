// The README's promise, tested as a user would run it: `scripts/dev` on a fresh port serves the
// Worker through `wrangler dev`, prints a working demo key, accepts the contract's curl example
// with 202, stores the event in local D1 within seconds, delivers a signed alert webhook as the
// README shows, and scripts/create-key and scripts/revoke-key work while it runs. Traffic goes to 127.0.0.1 only, bounded in count and time.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "../browser/chromium.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };
let dev, port, key, output = "";

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn().catch(() => null);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}; scripts/dev output:\n${output.slice(-4000)}`);
}

const url = (path) => `http://127.0.0.1:${port}${path}`;
const script = (name, args) =>
  execFileSync(`${ROOT}/scripts/${name}`, args, { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

before(async () => {
  port = await freePort();
  dev = spawn(`${ROOT}/scripts/dev`, [], { cwd: ROOT, env: { ...env, PORT: String(port) }, detached: true });
  dev.stdout.on("data", (d) => (output += d));
  dev.stderr.on("data", (d) => (output += d));
  // First run compiles a release build and runs wasm-opt: allow several minutes.
  key = await waitFor(async () => output.match(/^\s*(lsoc_live_[A-Za-z0-9]{32})\s*$/m)?.[1], 600_000, "the demo key");
  await waitFor(async () => (await fetch(url("/health"), { headers: { "X-API-Key": key } })).ok, 600_000, "the server");
});

after(() => {
  if (dev && dev.exitCode === null) process.kill(-dev.pid, "SIGTERM");
});

test("the printed demo key is a Pro key", async () => {
  const res = await fetch(url("/health"), { headers: { "X-API-Key": key } });
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.equal(body.plan, "pro");
});

test("the contract's curl example returns 202 and the event is in D1 within seconds", async () => {
  const res = await fetch(url("/collect"), {
    method: "POST",
    headers: { "X-API-Key": key, "Content-Type": "application/json" },
    body: JSON.stringify({
      event: "auth.login_failed", actor: { id: "user_123", email: "u@example.com" }, user_ip: "203.0.113.50",
      metadata: { method: "password", _sdk: "litesoc-python", _sdk_version: "2.6.0" },
    }),
  });
  assert.equal(res.status, 202);
  const body = await res.json();
  assert.equal(body.status, "queued");
  const id = body.event_ids[0];
  const row = await waitFor(async () => {
    const out = execFileSync("npx", ["wrangler", "d1", "execute", "DB", "--local", "--json", "--command",
      `SELECT id, severity FROM events WHERE id = '${id}'`], { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return JSON.parse(out)[0].results[0];
  }, 20_000, "the stored row");
  assert.equal(row.severity, "medium");
});

/** fetch, retried only while the server does not answer at all (wrangler dev briefly restarts
 *  its runtime after some local-state writes); the first HTTP answer is what counts. */
async function fetchAnswered(path, init) {
  return waitFor(() => fetch(url(path), init), 60_000, `an answer from ${path}`);
}

test("the README's alert-delivery example: a webhook added with one curl gets a signed POST within 2 s", async () => {
  const received = [];
  const receiver = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ at: Date.now(), headers: req.headers, body });
      res.end("ok");
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  try {
    const made = await (await fetchAnswered("/destinations", {
      method: "POST", headers: { "X-API-Key": key },
      body: JSON.stringify({ name: "smoke receiver", kind: "webhook", url: `http://127.0.0.1:${receiver.address().port}/` }),
    })).json();
    assert.match(made.data.secret, /^whsec_/);
    const sent = await fetchAnswered("/collect", {
      method: "POST", headers: { "X-API-Key": key },
      body: JSON.stringify({ event: "admin.privilege_escalation", actor: "mallory", user_ip: "203.0.113.66" }),
    });
    assert.equal(sent.status, 202);
    const accepted = Date.now();
    const got = await waitFor(async () => received[0], 10_000, "the webhook");
    assert.ok(got.at - accepted <= 2000, `arrived ${got.at - accepted} ms after the 202`);
    const expected = createHmac("sha256", Buffer.from(made.data.secret.slice(6), "base64"))
      .update(`${got.headers["webhook-id"]}.${got.headers["webhook-timestamp"]}.${got.body}`).digest("base64");
    assert.equal(got.headers["webhook-signature"], `v1,${expected}`);
    assert.equal(JSON.parse(got.body).data.alert.alert_type, "privilege_escalation");
    await fetchAnswered(`/destinations/${made.data.id}`, { method: "DELETE", headers: { "X-API-Key": key } });
  } finally {
    receiver.close();
  }
});

test("create-key and revoke-key work while the server runs", async () => {
  const created = script("create-key", ["--org", "Smoke Free", "--plan", "free"]).trim().split("\n").pop();
  assert.match(created, /^lsoc_live_[A-Za-z0-9]{32}$/);
  const ok = await fetchAnswered("/health", { headers: { Authorization: `Bearer ${created}` } });
  assert.equal((await ok.json()).plan, "free");
  script("revoke-key", [created]);
  // Revocation reaches every isolate within TENANT_CACHE_SECONDS (default 10).
  await waitFor(async () => (await fetchAnswered("/health", { headers: { "X-API-Key": created } })).status === 401 || null,
    15_000, "401 for the revoked key");
});

test("scripts/demo-traffic populates alerts, including impossible travel located through DB-IP", async () => {
  script("demo-traffic", ["--url", url(""), "--key", key]);
  const types = await waitFor(async () => {
    const res = await fetch(url("/alerts?limit=500"), { headers: { "X-API-Key": key } });
    const found = new Set((await res.json()).data.map((a) => a.alert_type));
    const want = ["brute_force_attack", "impossible_travel", "privilege_escalation", "data_exfiltration"];
    return want.every((t) => found.has(t)) ? found : null;
  }, 30_000, "the demo alerts");
  assert.ok(types.has("geo_anomaly") || types.has("new_device"), [...types].join(", "));
  const events = await (await fetch(url("/events?limit=1"), { headers: { "X-API-Key": key } })).json();
  assert.ok(events.pagination.total >= 100);
});

test("the dashboard page, served as assets by wrangler dev, renders the real /ui/mock-data in Chromium", async () => {
  // The browser suite in real mode: expected values come from the Worker's own responses.
  execFileSync("node", ["--test", "--test-concurrency=1", "tests/browser/"], {
    cwd: ROOT, env: { ...env, BASE_URL: url(""), API_KEY: key }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
  });
});

test("the OpenAPI document is a static asset with CORS at /openapi.json, and the Worker serves it on the prefixed paths", async () => {
  const file = JSON.stringify(JSON.parse(readFileSync(join(ROOT, "openapi/openapi.json"), "utf8")));
  for (const path of ["/openapi.json", "/v1/openapi.json", "/api/v1/openapi.json"]) {
    const res = await fetch(url(path));
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/, path);
    assert.equal(res.headers.get("access-control-allow-origin"), "*", path);
    assert.equal(await res.text(), file, `${path}: the document, compact`);
  }
});

test("an agent's heartbeat shows it online in the dashboard's Agents card (real Worker, Chromium)", async () => {
  const beat = await fetch(url("/agent/heartbeat"), {
    method: "POST", headers: { "X-API-Key": key, "Content-Type": "application/json", "User-Agent": "litesoc-agent/1.4.2" },
    body: JSON.stringify({ hostname: "smoke-host", ip_address: "10.0.0.5", agent_version: "1.4.2", recent_logs: ["sshd: Accepted publickey for deploy"] }),
  });
  assert.equal(beat.status, 200);
  assert.deepEqual(await beat.json(), { success: true, update: { available: false } });
  const { context, close } = await launchChromium();
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url("/"));
    await page.waitForSelector("#key-dialog[open]");
    await page.fill("#key-input", key);
    await page.click("#key-submit");
    const row = page.locator('#agents tr.agent[data-hostname="smoke-host"]');
    await row.waitFor({ timeout: 15_000 });
    assert.equal(await row.locator(".agent-state").textContent(), "Online");
    assert.equal(await row.locator("td.c-ver").textContent(), "1.4.2");
  } finally {
    await close();
  }
});
