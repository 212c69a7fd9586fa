// Keeps openapi/openapi.json true:
//  1. it is a valid OpenAPI 3.1 document (@readme/openapi-parser) with the conventions we rely on;
//  2. the Worker serves it (compact, the same document) at GET /openapi.json without a key;
//  3. its (method, path) set equals what the Worker routes, probed through Miniflare and
//     cross-checked against crates/core/src/api/route.rs;
//  4. real responses (successes and every error status we can trigger) validate against the
//     documented response schemas and headers (ajv, JSON Schema 2020-12).
// Runs the built Worker (build/index.js) in Miniflare via the e2e harness.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createHash, randomUUID } from "node:crypto";
import { validate as validateOpenApi } from "@readme/openapi-parser";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { start } from "../e2e/harness.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const SPEC_TEXT = readFileSync(`${ROOT}openapi/openapi.json`, "utf8");
const spec = JSON.parse(SPEC_TEXT);
const METHODS = ["get", "post", "put", "patch", "delete"];
const SPEC_ID = "https://edgesoc.test/openapi.json";

// ------------------------------------------------------------------ spec helpers

const deref = (obj) => {
  let o = obj;
  while (o && o.$ref) {
    o = o.$ref
      .replace(/^#\//, "")
      .split("/")
      .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce((acc, k) => acc[k], spec);
  }
  return o;
};
const pointer = (...parts) => "/" + parts.map((p) => String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
const isPending = (op) => op["x-edgesoc-pending"] === true;

function specOperations() {
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const m of METHODS) if (item[m]) ops.push({ method: m.toUpperCase(), path, op: item[m] });
  }
  return ops;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: SPEC_ID, components: spec.components, paths: spec.paths });

/** The documented response object for (path, method, status); fails when undocumented. */
function documented(path, method, status) {
  const op = spec.paths[path]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${path} is not in the spec`);
  const r = op.responses[String(status)];
  assert.ok(r, `${method} ${path} does not document status ${status}`);
  return { op, response: deref(r) };
}

/** Validates a real response {status, headers, body} against the spec. */
function conforms(path, method, res) {
  const where = `${method} ${path} → ${res.status}`;
  const { response } = documented(path, method, res.status);
  const media = response.content && Object.keys(response.content)[0];
  if (media) {
    assert.match(res.headers.get("content-type") || "", /^application\/json/, `${where}: content-type`);
    const raw = spec.paths[path][method.toLowerCase()].responses[String(res.status)];
    const base = raw.$ref
      ? raw.$ref.slice(1) // "#/components/responses/X" → "/components/responses/X"
      : pointer("paths", path, method.toLowerCase(), "responses", res.status);
    const validateBody = ajv.getSchema(`${SPEC_ID}#${base}${pointer("content", media, "schema")}`);
    assert.ok(validateBody, `${where}: schema not found`);
    const ok = validateBody(res.body);
    assert.ok(ok, `${where}: body does not match the spec:\n${JSON.stringify(validateBody.errors, null, 1)}\nbody: ${JSON.stringify(res.body).slice(0, 2000)}`);
  } else {
    assert.equal(typeof res.body === "string" ? res.body : JSON.stringify(res.body), "", `${where}: expected no body`);
  }
  for (const [name, h] of Object.entries(response.headers || {})) {
    const header = deref(h);
    const value = res.headers.get(name);
    if (value === null) {
      assert.ok(!header.required, `${where}: required header ${name} missing`);
      continue;
    }
    const schema = deref(header.schema);
    const typed = schema.type === "integer" ? (/^-?\d+$/.test(value) ? Number(value) : value) : value;
    const v = ajv.compile({ $id: `urn:hdr:${randomUUID()}`, ...header.schema.$ref ? { $ref: `${SPEC_ID}${header.schema.$ref}` } : header.schema });
    assert.ok(v(typed), `${where}: header ${name}: ${value} does not match ${JSON.stringify(schema)}`);
  }
}

// ------------------------------------------------------------------ 1. structure

describe("the document", () => {
  test("is a valid OpenAPI 3.1 document", async () => {
    assert.match(spec.openapi, /^3\.1\.\d+$/);
    const result = await validateOpenApi(structuredClone(spec));
    assert.equal(result.valid, true, JSON.stringify(result.errors ?? result, null, 1));
  });

  test("every $ref resolves, every schema compiles, operationIds are unique", () => {
    const seen = new Set();
    const walk = (node, at) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`));
      if (!node || typeof node !== "object") return;
      if (typeof node.$ref === "string") assert.ok(deref(node), `${at}: dangling ${node.$ref}`);
      for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`);
    };
    walk(spec, "#");
    for (const name of Object.keys(spec.components.schemas)) {
      assert.ok(ajv.getSchema(`${SPEC_ID}#/components/schemas/${name}`), `schema ${name} does not compile`);
    }
    for (const { method, path, op } of specOperations()) {
      assert.ok(op.operationId, `${method} ${path}: operationId`);
      assert.ok(!seen.has(op.operationId), `duplicate operationId ${op.operationId}`);
      seen.add(op.operationId);
    }
  });

  test("every authenticated operation documents 401, 405, 429, 500 and 503 with the error body", () => {
    for (const { method, path, op } of specOperations()) {
      if (Array.isArray(op.security) && op.security.length === 0) continue; // /openapi.json
      for (const status of ["401", "405", "429", "500", "503"]) {
        const r = deref(op.responses[status]);
        assert.ok(r, `${method} ${path}: ${status} missing`);
        const schema = r.content?.["application/json"]?.schema;
        assert.ok(JSON.stringify(schema).includes("#/components/schemas/ErrorBody"), `${method} ${path} ${status}: not ErrorBody`);
      }
    }
  });
});

// ------------------------------------------------------------------ 2–4. against the Worker

let app, pro, free, custom, quota1, rate2;
before(async () => {
  app = await start({ shards: [] });
  pro = await app.createKey({ org: "Spec Pro", plan: "pro" });
  free = await app.createKey({ org: "Spec Free", plan: "free" });
  custom = await app.createKey({ org: "Spec Custom", plan: "custom" });
  quota1 = await app.createKey({ org: "Spec Quota", plan: "enterprise", quota: 1 });
  rate2 = await app.createKey({ org: "Spec Rate", plan: "enterprise", rateLimit: 2 });
});
after(() => app?.dispose());

/** `app.request` plus the check that the response conforms to (path template, method). */
async function checked(template, path, opts = {}) {
  const res = await app.request(path, opts);
  conforms(template, opts.method || "GET", res);
  return res;
}

describe("served at GET /openapi.json", () => {
  test("without a key, the file's document without its indentation, as JSON with CORS", async () => {
    const res = await app.mf.dispatchFetch("http://edgesoc.test/openapi.json");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const text = await res.text();
    const served = createHash("sha256").update(text).digest("hex");
    const file = createHash("sha256").update(JSON.stringify(JSON.parse(SPEC_TEXT))).digest("hex");
    assert.equal(served, file, "public/openapi.json differs from openapi/openapi.json: rebuild it (scripts/build --dev)");
    assert.ok(!text.includes("\n"), "compact: no indentation");
    const v1 = await app.request("/v1/openapi.json");
    assert.equal(v1.status, 200, "prefixes are normalised as for the API");
    conforms("/openapi.json", "GET", v1);
    const pre = await app.request("/openapi.json", { method: "OPTIONS" });
    assert.equal(pre.status, 204, "CORS preflight as on every path");
    const post = await app.request("/openapi.json", { method: "POST" });
    assert.equal(post.status, 405);
    conforms("/openapi.json", "GET", post);
  });
});

// ------------------------------------------------------------------ 3. route set

/** Route patterns of crates/core/src/api/route.rs: [{path, methods}] with `{id}` for bindings. */
function routesFromSource() {
  const src = readFileSync(`${ROOT}crates/core/src/api/route.rs`, "utf8");
  const body = src.slice(src.indexOf("let allowed"), src.indexOf("_ => return Err"));
  const routes = [];
  let current = null;
  for (const line of body.split("\n")) {
    const t = line.trim();
    if (t.startsWith("[")) {
      const patterns = [...t.split("=>")[0].matchAll(/\[([^\]]*)\]/g)].map((m) =>
        "/" +
        m[1]
          .split(",")
          .map((s) => s.trim())
          .map((s) => (s.startsWith('"') ? s.slice(1, -1) : `{${s}}`))
          .join("/"),
      );
      current = { paths: patterns, methods: new Set() };
      routes.push(current);
    }
    if (current) for (const m of t.matchAll(/\("([A-Z]+)",\s*Route::/g)) current.methods.add(m[1]);
  }
  return routes.flatMap((r) => r.paths.map((path) => ({ path, methods: [...r.methods] })));
}

describe("the routed set equals the documented set", () => {
  test("an operation reads as pending exactly when it carries x-edgesoc-pending", () => {
    for (const { method, path, op } of specOperations()) {
      const says = /\bpending\b/i.test(`${op.summary ?? ""} ${op.description ?? ""}`);
      assert.equal(says, isPending(op), `${method} ${path}: summary or description ${says ? "says" : "does not say"} pending, x-edgesoc-pending is ${isPending(op)}`);
    }
  });

  test("route.rs and the spec list the same (method, path) pairs", () => {
    const fromSource = new Set(routesFromSource().flatMap((r) => r.methods.map((m) => `${m} ${r.path}`)));
    fromSource.add("GET /openapi.json"); // served in src/lib.rs before routing
    const documentedSet = new Set(specOperations().map((o) => `${o.method} ${o.path}`));
    assert.ok(fromSource.size >= 9, `parsed too little of route.rs: ${[...fromSource]}`);
    assert.deepEqual([...documentedSet].sort(), [...fromSource].sort());
  });

  test("probing the Worker with every method finds exactly the documented operations", async () => {
    const sample = randomUUID();
    const candidates = new Set(specOperations().map((o) => o.path));
    for (const r of routesFromSource()) candidates.add(r.path);
    for (const extra of ["/", "/events/x/y", "/alerts/x/y", "/collect/other", "/ui", "/loki/api/v1/tail", "/openapi.yaml"]) candidates.add(extra);
    const served = new Set();
    const pending = new Set();
    for (const template of candidates) {
      const path = template.replace("{id}", sample);
      for (const method of METHODS.map((m) => m.toUpperCase())) {
        const res = await app.request(path, { method, key: pro, body: ["POST", "PATCH", "PUT"].includes(method) ? "{}" : undefined });
        const message = res.body?.error?.message || "";
        if (res.status === 405) continue;
        if (res.status === 404 && message === "Route not found") continue;
        if (res.status === 404 && message.includes("not available in this build")) {
          pending.add(`${method} ${template}`);
          continue;
        }
        served.add(`${method} ${template}`);
      }
    }
    const documentedOps = specOperations();
    const documentedServed = new Set(documentedOps.filter((o) => !isPending(o.op)).map((o) => `${o.method} ${o.path}`));
    const pendingOps = documentedOps.filter((o) => isPending(o.op)).map((o) => `${o.method} ${o.path}`);
    for (const op of pendingOps) {
      assert.ok(!served.has(op), `${op} is served now: drop its x-edgesoc-pending marker and its "pending" wording, and test it here`);
      assert.ok(pending.has(op), `${op} is documented as pending but the Worker does not route it at all`);
    }
    for (const op of pending) assert.ok(pendingOps.includes(op), `${op} answers "not available in this build" but is not marked pending`);
    assert.deepEqual([...served].sort(), [...documentedServed].sort());
  });
});

// ------------------------------------------------------------------ 4. real responses

describe("real responses match the documented schemas", () => {
  let eventId, alertIds;

  test("202 from POST /collect and /collect/batch, with and without quota", async () => {
    const single = await checked("/collect", "/collect", {
      method: "POST",
      key: pro,
      body: { event: "auth.login_failed", actor: { id: "user_123", email: "u@example.com" }, user_ip: "203.0.113.50", metadata: { method: "password" } },
    });
    assert.equal(single.status, 202);
    assert.ok(single.body.quota, "limited plans report their quota");
    eventId = single.body.event_ids[0];
    const batch = await checked("/collect/batch", "/collect/batch", {
      method: "POST",
      key: custom,
      body: { events: [{ event: "auth.login_success", actor: "a" }, { event_name: "billing.paid", user_ip: "unknown", metadata: 7 }] },
    });
    assert.equal(batch.status, 202);
    assert.equal(batch.body.quota, undefined, "unlimited plans leave quota out");
    const freeOne = await checked("/collect", "/collect", {
      method: "POST",
      key: free,
      body: { event: "auth.login_success", actor: { id: "f1" }, user_ip: "198.51.100.8" },
    });
    assert.equal(freeOne.status, 202);
    // Instant alerts for the alert endpoints below.
    for (const event of ["admin.privilege_escalation", "data.sensitive_access", "security.suspicious_activity"]) {
      const r = await checked("/collect", "/collect", { method: "POST", key: pro, body: { event, actor: "mallory", user_ip: "203.0.113.66" } });
      assert.equal(r.status, 202);
    }
    await app.settle();
  });

  test("200 list and single envelopes of events (Pro, Free redacted, custom, empty, cursor)", async () => {
    const list = await checked("/events", "/events?limit=2", { key: pro });
    assert.equal(list.status, 200);
    assert.equal(list.body.data.length, 2);
    assert.equal(list.body.pagination.has_more, true);
    const next = await checked("/events", `/events?limit=2&cursor=${list.body.pagination.next_cursor}`, { key: pro });
    assert.equal(next.status, 200);
    const filtered = await checked("/events", "/events?event_name=auth.login_failed&severity=medium,high&start_date=2020-01-01&to=2999-12-31", { key: pro });
    assert.equal(filtered.body.data.length, 1);
    const redacted = await checked("/events", "/events", { key: free });
    assert.equal(redacted.body.meta.redacted, true);
    assert.equal(redacted.body.data.length, 1);
    await checked("/events", "/events", { key: custom });
    const empty = await checked("/events", "/events?actor_id=nobody", { key: pro });
    assert.deepEqual(empty.body.data, []);
    const one = await checked("/events/{id}", `/events/${eventId}`, { key: pro });
    assert.equal(one.status, 200);
    assert.equal(one.body.data.id, eventId);
  });

  test("200 GET /health on limited and unlimited plans", async () => {
    const h = await checked("/health", "/health", { key: pro });
    assert.equal(h.status, 200);
    const u = await checked("/health", "/health", { key: custom });
    assert.equal(u.body.quota.limit, null);
    assert.equal(u.body.rate_limit.limit, null);
    const bearer = await checked("/health", "/health", { headers: { Authorization: `Bearer ${free}` } });
    assert.equal(bearer.body.plan, "free");
  });

  test("200 alerts: list, single, and PATCH in both styles", async () => {
    const list = await app.eventually(async () => {
      const r = await app.request("/alerts", { key: pro });
      return r.body.data?.length >= 3 ? r : null;
    });
    assert.ok(list, "instant alerts appeared");
    conforms("/alerts", "GET", list);
    alertIds = list.body.data.map((a) => a.id);
    await checked("/alerts", "/alerts?status=open,dismissed&severity=critical&alert_type=privilege_escalation&limit=1", { key: pro });
    const one = await checked("/alerts/{id}", `/alerts/${alertIds[0]}`, { key: pro });
    assert.equal(one.status, 200);
    const resolved = await checked("/alerts/{id}", `/alerts/${alertIds[0]}`, {
      method: "PATCH",
      key: pro,
      body: { action: "resolve", resolution_type: "blocked_ip", internal_notes: "blocked", resolved_by: "spec" },
    });
    assert.equal(resolved.status, 200);
    assert.equal(resolved.body.data.action, "resolve");
    assert.equal((await checked("/alerts/{id}", `/alerts/${alertIds[1]}`, { method: "PATCH", key: pro, body: { status: "safe" } })).status, 200);
    assert.equal((await checked("/alerts/{id}", `/alerts/${alertIds[1]}`, { method: "PATCH", key: pro, body: { status: "open" } })).body.data.action, "reopen");
    await checked("/alerts", "/alerts?status=resolved", { key: pro });
    await checked("/alerts/{id}", `/alerts/${alertIds[0]}`, { key: pro });
  });

  test("400 on every operation that validates input", async () => {
    const cases = [
      ["/collect", "/collect", { method: "POST", key: pro, body: { event: "nodot" } }],
      ["/collect", "/collect", { method: "POST", key: pro, body: { events: [{ event: "a.b" }, { event: 7 }] } }],
      ["/collect", "/collect", { method: "POST", key: pro, body: "{not json" }],
      ["/collect/batch", "/collect/batch", { method: "POST", key: pro, body: { events: [] } }],
      ["/events", "/events?limit=ten", { key: pro }],
      ["/events", "/events?event_type=a.b&event_name=c.d", { key: pro }],
      ["/alerts", "/alerts?severity=info", { key: pro }],
      ["/alerts/{id}", `/alerts/${randomUUID()}`, { method: "PATCH", key: pro, body: { status: "closed" } }],
    ];
    for (const [template, path, opts] of cases) {
      const res = await checked(template, path, opts);
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
    }
    const batchErr = await app.request("/collect", { method: "POST", key: pro, body: { events: [{ event: "a.b" }, { event: 7 }] } });
    assert.deepEqual(batchErr.body.error.details.map((d) => d.index), [1]);
  });

  test("401 without a key or with an unknown one, /health adding status: error", async () => {
    for (const [template, path, method] of [
      ["/collect", "/collect", "POST"],
      ["/events", "/events", "GET"],
      ["/events/{id}", `/events/${randomUUID()}`, "GET"],
      ["/alerts", "/alerts", "GET"],
      ["/alerts/{id}", `/alerts/${randomUUID()}`, "PATCH"],
    ]) {
      const res = await checked(template, path, { method, key: "lsoc_live_unknownunknownunknown00" });
      assert.equal(res.status, 401);
    }
    const h = await checked("/health", "/health", {});
    assert.equal(h.status, 401);
    assert.equal(h.body.status, "error");
  });

  test("403 PLAN_RESTRICTED on Free alert calls and QUOTA_EXCEEDED on ingestion", async () => {
    for (const [template, path, method, body] of [
      ["/alerts", "/alerts", "GET"],
      ["/alerts/{id}", `/alerts/${alertIds[0]}`, "GET"],
      ["/alerts/{id}", `/alerts/${alertIds[0]}`, "PATCH", { status: "resolved" }],
    ]) {
      const res = await checked(template, path, { method, key: free, body });
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, "PLAN_RESTRICTED");
    }
    const over = await checked("/collect", "/collect", { method: "POST", key: quota1, body: { events: [{ event: "a.b" }, { event: "a.c" }] } });
    assert.equal(over.status, 403);
    assert.equal(over.body.error.code, "QUOTA_EXCEEDED");
  });

  test("404 for unknown, malformed and other organisations' ids", async () => {
    for (const [template, path, opts] of [
      ["/events/{id}", `/events/${randomUUID()}`, { key: pro }],
      ["/events/{id}", "/events/not-a-uuid", { key: pro }],
      ["/events/{id}", `/events/${eventId}`, { key: custom }],
      ["/alerts/{id}", `/alerts/${randomUUID()}`, { key: pro }],
      ["/alerts/{id}", `/alerts/${randomUUID()}`, { method: "PATCH", key: pro, body: { status: "resolved" } }],
    ]) {
      const res = await checked(template, path, opts);
      assert.equal(res.status, 404);
    }
  });

  test("405 for a documented path with another method", async () => {
    for (const [template, path, method, documentedMethod] of [
      ["/collect", "/collect", "GET", "POST"],
      ["/events", "/events", "POST", "GET"],
      ["/alerts/{id}", `/alerts/${randomUUID()}`, "DELETE", "GET"],
      ["/health", "/health", "PUT", "GET"],
    ]) {
      const res = await app.request(path, { method, key: pro });
      assert.equal(res.status, 405);
      conforms(template, documentedMethod, res);
    }
  });

  test("413 for a body over 1 MiB, an event over 32 KiB and a PATCH over 16 KiB", async () => {
    const big = await checked("/collect", "/collect", { method: "POST", key: pro, body: JSON.stringify({ event: "a.b", metadata: { x: "y".repeat(1024 * 1024) } }) });
    assert.equal(big.status, 413);
    const event = await checked("/collect", "/collect", { method: "POST", key: pro, body: { events: [{ event: "a.b" }, { event: "a.b", metadata: { x: "y".repeat(40_000) } }] } });
    assert.equal(event.status, 413);
    assert.equal(event.body.error.details[0].index, 1);
    const patch = await checked("/alerts/{id}", `/alerts/${alertIds[0]}`, { method: "PATCH", key: pro, body: { status: "resolved", internal_notes: "n".repeat(20_000) } });
    assert.equal(patch.status, 413);
  });

  test("Loki push: 204 for JSON, gzip and Basic auth; 400, 413 and 415 errors", async () => {
    const ns = (offsetMs) => `${BigInt(Date.now() - offsetMs) * 1_000_000n}`;
    const push = {
      streams: [
        {
          stream: { service: "auth-service", namespace: "prod", pod: "auth-7d9f" },
          values: [
            [ns(2000), JSON.stringify({ level: "error", msg: "failed login", user: "admin", ip: "203.0.113.45", status: 401 })],
            [ns(1000), "sshd: Failed password for invalid user oracle from 198.51.100.9 port 50122", { trace_id: "t1" }],
          ],
        },
      ],
    };
    const path = "/loki/api/v1/push";
    const json = { "Content-Type": "application/json" };
    const ok = await checked(path, path, { method: "POST", key: pro, headers: json, body: push });
    assert.equal(ok.status, 204);
    const gz = await checked(path, path, {
      method: "POST",
      key: pro,
      headers: { ...json, "Content-Encoding": "gzip" },
      body: new Uint8Array(gzipSync(JSON.stringify(push))),
    });
    assert.equal(gz.status, 204);
    const basic = Buffer.from(`shipper:${custom}`).toString("base64");
    const viaBasic = await checked(path, path, { method: "POST", headers: { ...json, Authorization: `Basic ${basic}` }, body: push });
    assert.equal(viaBasic.status, 204);
    assert.equal(viaBasic.headers.get("x-litesoc-plan"), "enterprise");
    const bad = await checked(path, path, { method: "POST", key: pro, headers: json, body: { streams: [{ values: [["x"]] }] } });
    assert.equal(bad.status, 400);
    // A protobuf push is accepted; "\x00" announces an empty snappy body, which holds no push: 400.
    const proto = await checked(path, path, { method: "POST", key: pro, headers: { "Content-Type": "application/x-protobuf" }, body: "\x00" });
    assert.equal(proto.status, 400);
    const other = await checked(path, path, { method: "POST", key: pro, headers: { "Content-Type": "text/plain" }, body: "x" });
    assert.equal(other.status, 415);
    const many = { streams: [{ stream: {}, values: Array.from({ length: 10_001 }, () => [ns(0), "x"]) }] };
    const tooMany = await checked(path, path, { method: "POST", key: pro, headers: json, body: many });
    assert.equal(tooMany.status, 413);
    const unauth = await checked(path, path, { method: "POST", headers: { ...json, Authorization: "Basic Zm9vOmJhcg==" }, body: push });
    assert.equal(unauth.status, 401);
    // Failed-login lines feed brute-force detection: the alert they raise has the documented shape.
    const burst = {
      streams: [{ stream: { job: "sshd" }, values: Array.from({ length: 6 }, (_, i) => [ns(6000 - i * 1000), `sshd: Failed password for invalid user u${i} from 198.51.100.50 port 22`]) }],
    };
    assert.equal((await checked(path, path, { method: "POST", key: pro, headers: json, body: burst })).status, 204);
    const raised = await checked("/alerts", "/alerts?alert_type=brute_force_attack", { key: pro });
    assert.ok(raised.body.data.some((a) => a.source_ip === "198.51.100.50"), JSON.stringify(raised.body.data));
  });

  test("suppressions, mark safe and suppress, and detection settings: every answer as documented", async () => {
    const hour = () => new Date(Date.now() + 3_600_000).toISOString();
    const created = await checked("/suppressions", "/suppressions", {
      method: "POST", key: pro,
      body: { scope: "cidr", value: "203.0.113.77/24", reason: "spec", alert_types: ["brute_force"], expires_at: hour() },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.data.value, "203.0.113.0/24");
    const id = created.body.data.id;
    for (const [scope, value] of [["ip", "2001:db8::1"], ["asn", 13335], ["actor", "spec_quiet"], ["country", "de"]]) {
      assert.equal((await checked("/suppressions", "/suppressions", { method: "POST", key: pro, body: { scope, value, reason: "spec" } })).status, 201);
    }
    assert.equal((await checked("/suppressions", "/suppressions", { key: pro })).body.data.length, 5);
    await checked("/suppressions", "/suppressions?include=expired&limit=2", { key: pro });
    assert.equal((await checked("/suppressions/{id}", `/suppressions/${id.toUpperCase()}`, { key: pro })).status, 200);
    for (const [template, path, opts] of [
      ["/suppressions", "/suppressions?include=all", { key: pro }],
      ["/suppressions", "/suppressions", { method: "POST", key: pro, body: { scope: "cidr", value: "10.0.0.0/7", reason: "" } }],
      ["/suppressions", "/suppressions", { method: "POST", key: pro, body: "[]" }],
      ["/settings/detection", "/settings/detection", { method: "PATCH", key: pro, body: { brute_force_ip: { threshold: 1 } } }],
      ["/settings/detection", "/settings/detection", { method: "PATCH", key: pro, body: {} }],
    ]) {
      assert.equal((await checked(template, path, opts)).status, 400, path);
    }
    // An alert recorded as suppressed, listed with status=suppressed.
    assert.equal((await checked("/collect", "/collect", { method: "POST", key: pro, body: { event: "admin.privilege_escalation", actor: "spec_quiet" } })).status, 202);
    assert.equal((await checked("/collect", "/collect", { method: "POST", key: pro, body: { event: "admin.privilege_escalation", actor: "spec_markable", user_ip: "198.51.100.200" } })).status, 202);
    const quiet = await app.eventually(async () => {
      const r = await app.request("/alerts?status=suppressed", { key: pro });
      return r.body.data?.length ? r : null;
    });
    assert.ok(quiet, "the suppressed alert appeared");
    conforms("/alerts", "GET", quiet);
    assert.match(quiet.body.data[0].suppressed_by, /^sup_/);
    const markable = await app.eventually(async () => (await app.request("/alerts?actor_id=spec_markable", { key: pro })).body.data?.[0]);
    const marked = await checked("/alerts/{id}", `/alerts/${markable.id}`, {
      method: "PATCH", key: pro, body: { action: "mark_safe", suppress: { scope: "ip", expires_at: hour(), reason: "spec" } },
    });
    assert.equal(marked.status, 200, JSON.stringify(marked.body));
    assert.equal(marked.body.data.suppression.value, "198.51.100.200");
    const refused = await checked("/alerts/{id}", `/alerts/${markable.id}`, { method: "PATCH", key: pro, body: { action: "resolve", suppress: { scope: "ip" } } });
    assert.equal(refused.status, 400);
    const gone = await checked("/suppressions/{id}", `/suppressions/${id}`, { method: "DELETE", key: pro });
    assert.equal(gone.body.data.status, "deleted");
    for (const [template, path, method] of [
      ["/suppressions/{id}", `/suppressions/${id}`, "DELETE"],
      ["/suppressions/{id}", "/suppressions/sup_00000000000000000000000000000000", "GET"],
      ["/suppressions/{id}", "/suppressions/not-an-id", "DELETE"],
    ]) {
      assert.equal((await checked(template, path, { method, key: pro })).status, 404, `${method} ${path}`);
    }
    const defaults = await checked("/settings/detection", "/settings/detection", { key: custom });
    assert.equal(defaults.body.data.updated_at, null);
    const changed = await checked("/settings/detection", "/settings/detection", {
      method: "PATCH", key: custom, body: { brute_force_account: { threshold: 4 }, travel: { min_speed_kmh: 950.5 }, country_blocklist: ["kp"], reason: "spec" },
    });
    assert.equal(changed.status, 200);
    assert.deepEqual(changed.body.data.country_blocklist, ["KP"]);
    for (const [template, path, method, body] of [
      ["/suppressions", "/suppressions", "GET"],
      ["/suppressions", "/suppressions", "POST", { scope: "ip", value: "203.0.113.1", reason: "r" }],
      ["/suppressions/{id}", `/suppressions/${id}`, "GET"],
      ["/suppressions/{id}", `/suppressions/${id}`, "DELETE"],
      ["/settings/detection", "/settings/detection", "GET"],
      ["/settings/detection", "/settings/detection", "PATCH", { travel: null }],
    ]) {
      const res = await checked(template, path, { method, key: free, body });
      assert.equal(res.status, 403, `${method} ${path}`);
    }
    const big = "x".repeat(20_000);
    assert.equal((await checked("/suppressions", "/suppressions", { method: "POST", key: pro, body: { scope: "actor", value: "a", reason: big } })).status, 413);
    assert.equal((await checked("/settings/detection", "/settings/detection", { method: "PATCH", key: pro, body: { reason: big } })).status, 413);
  });

  test("429 with Retry-After once the rate limit is used up", async () => {
    const statuses = [];
    for (const [template, path, opts] of [
      ["/health", "/health", { key: rate2 }],
      ["/events", "/events", { key: rate2 }],
      ["/events", "/events", { key: rate2 }],
      ["/collect", "/collect", { method: "POST", key: rate2, body: { event: "a.b" } }],
      ["/health", "/health", { key: rate2 }],
    ]) {
      statuses.push((await checked(template, path, opts)).status);
    }
    // /collect counts in the events budget, apart from reads (docs/api.md §3.2).
    assert.deepEqual(statuses, [200, 200, 429, 202, 429]);
  });
});
