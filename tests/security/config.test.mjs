// Static checks behind SECURITY.md's configuration claims: what the committed deployment config
// (wrangler.toml), the ignore rules, the dashboard's security headers and the Worker's sources
// may and may not contain. No Worker build is needed.
//
//   node --test tests/security/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;
const read = (p) => readFileSync(join(ROOT, p), "utf8");

/** Every file under `dir` (relative to the repo) whose name ends with `ext`. */
function sources(dir, ext) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(ext)) out.push(relative(ROOT, p));
    }
  };
  walk(join(ROOT, dir));
  return out;
}

/** `[section]` → {key: raw value} for the flat `key = value` lines of a TOML file. */
function tomlSections(text) {
  const sections = { "": {} };
  let cur = "";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (!line || line.startsWith("#")) continue;
    const header = line.match(/^\[\[?([^\]]+)\]\]?$/);
    if (header) {
      cur = header[1].trim();
      sections[cur] ??= {};
      continue;
    }
    const kv = line.match(/^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/);
    if (kv) sections[cur][kv[1]] = kv[2];
  }
  return sections;
}

test("wrangler.toml holds no secret, no key and no test-only, development or public-org var", () => {
  const text = read("wrangler.toml");
  const code = text.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
  // Secrets are set with `wrangler secret put`, never committed.
  for (const name of ["BOOTSTRAP_API_KEY", "EDGESOC_FAULTS", "DASHBOARD_PUBLIC_ORG", "CURSOR_SECRET", "SESSION_SECRET", "DELIVERY_ALLOW_HTTP_LOOPBACK", "PAGERDUTY_EVENTS_URL"]) {
    assert.doesNotMatch(code, new RegExp(`\\b${name}\\b`), `${name} must not be set in wrangler.toml`);
  }
  assert.doesNotMatch(text, /lsoc_(live|test)_[A-Za-z0-9]{8,}/, "no API key in wrangler.toml");
  const vars = tomlSections(text).vars ?? {};
  const allowed = new Set([
    "BOOTSTRAP_PLAN", "PURGE_CHUNK_ROWS", "PURGE_MAX_STATEMENTS", "NETWORK_LIST_SOURCES", "NETWORK_LIST_TIMEOUT_MS",
    "TENANT_CACHE_SECONDS", "PUBLIC_URL", "EMAIL_FROM", "DELIVERY_TIMEOUT_MS", "DELIVERY_MAX_ATTEMPTS",
    "DELIVERY_BACKOFF_SECONDS", "EDGESOC_D1_METER",
  ]);
  for (const name of Object.keys(vars)) assert.ok(allowed.has(name), `unexpected [vars] entry ${name}: secrets go in wrangler secret`);
});

test(".dev.vars and .wrangler/ (the demo key) are gitignored; scripts/dev writes the demo key owner-only", () => {
  const ignored = read(".gitignore").split("\n").map((l) => l.trim());
  assert.ok(ignored.includes("/.dev.vars"), ".dev.vars (local secrets) is ignored");
  assert.ok(ignored.includes("/.wrangler"), ".wrangler/ (local D1 state and the demo key) is ignored");
  const dev = read("scripts/dev");
  assert.match(dev, /^key_file=\.wrangler\/demo-api-key$/m, "the demo key lives under .wrangler/");
  assert.match(dev, /\(umask 077; printf '%s' "\$key" > "\$key_file"\)/, "written with umask 077 (mode 0600)");
});

test("the dashboard's _headers sends a strict CSP and anti-framing headers on every path", () => {
  const lines = read("dashboard/static/_headers").split("\n");
  const start = lines.findIndex((l) => l.trim() === "/*");
  assert.ok(start >= 0, "a /* rule exists");
  const headers = {};
  for (const l of lines.slice(start + 1)) {
    if (!/^\s/.test(l) || !l.trim()) break;
    const i = l.indexOf(":");
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const csp = Object.fromEntries(
    headers["content-security-policy"].split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]),
  );
  assert.deepEqual(csp["default-src"], ["'none'"]);
  assert.deepEqual(csp["script-src"], ["'self'"], "no inline or eval'd script, no third-party script");
  assert.deepEqual(csp["connect-src"], ["'self'"], "the page can only talk to its own origin");
  assert.deepEqual(csp["frame-ancestors"], ["'none'"]);
  assert.deepEqual(csp["base-uri"], ["'none'"]);
  assert.deepEqual(csp["form-action"], ["'none'"]);
  assert.ok(!csp["img-src"].includes("*") && !csp["img-src"].some((s) => s.startsWith("http")), "no remote images (exfiltration)");
  assert.equal(headers["x-content-type-options"], "nosniff");
  assert.equal(headers["x-frame-options"], "DENY");
  assert.equal(headers["referrer-policy"], "no-referrer");
  // The build copies dashboard/static/ verbatim into public/, the assets directory.
  assert.match(read("dashboard/vite.config.mjs"), /publicDir:\s*"static"/);
  assert.match(read("wrangler.toml"), /^directory = "\.\/public"$/m);
});

test("EDGESOC_FAULTS is read in one place only, src/faults.rs", () => {
  const files = [...sources("src", ".rs"), ...sources("crates", ".rs")];
  const readers = files.filter((f) => /env\.var\("EDGESOC_FAULTS"\)/.test(read(f)));
  assert.deepEqual(readers, ["src/faults.rs"]);
  const uses = read("src/faults.rs").match(/env\.var\("EDGESOC_FAULTS"\)/g) ?? [];
  assert.equal(uses.length, 1);
});

test("only the network-list refresh, alert delivery and the Access key fetch make outbound requests", () => {
  // The global Fetch API (`worker::Fetch`, JS `fetch`) reaches the internet; Durable Object
  // stubs (`stub.fetch_with_request`) do not. Two callers, one call site each: the list refresh
  // (fetch_capped) and alert delivery (Fetcher::post, reached only through the core's delivery
  // flow, which checks the URL with alerts::delivery::outbound::check_url at every attempt).
  const files = [...sources("src", ".rs"), ...sources("crates", ".rs")];
  const callers = files.filter((f) => /\bFetch::(Request|Url)\b|\bworker::Fetch\b|js_sys::global\(\)[^;]*fetch/.test(read(f)));
  assert.deepEqual(callers.sort(), ["src/access/cf_access.rs", "src/alerts/deliver.rs", "src/intel/lists.rs"]);
  // The Access keys come from the team's certs URL only: https://<team>.cloudflareaccess.com.
  assert.match(read("src/access/cf_access.rs"), /Fetch::Url\(cfg\.certs_url\(\)/);
  assert.match(read("crates/core/src/access/cf_access.rs"), /strip_suffix\("\.cloudflareaccess\.com"\)/);
  for (const f of callers) {
    const urls = read(f).match(/\bFetch::(Request|Url)\b/g) ?? [];
    assert.equal(urls.length, 1, `one call site in ${f}`);
  }
  assert.match(read("crates/core/src/alerts/delivery/deliver.rs"), /check_url\(&request\.url/);
  assert.match(read("src/alerts/deliver.rs"), /RequestRedirect::Manual/, "redirects are not followed");
});

test("no response grants credentialed CORS, and an allowed origin is * or one the organisation lists", () => {
  const files = [...sources("src", ".rs"), ...sources("crates", ".rs")];
  const setters = [];
  for (const f of files) {
    const text = read(f);
    assert.doesNotMatch(text, /Access-Control-Allow-Credentials/i, f);
    for (const m of text.matchAll(/"Access-Control-Allow-Origin",\s*([^)]*)\)/g)) setters.push(`${f}: ${m[1].trim()}`);
  }
  // The base headers and the public OpenAPI document say *; the one other setter names an origin the organisation listed
  // (src/api/mod.rs passes only origins::decide's Cors::Echo to http::allow_origin).
  assert.deepEqual(setters.sort(), ['src/api/http.rs: "*"', "src/api/http.rs: origin", 'src/api/openapi.rs: "*"']);
  assert.match(read("src/api/mod.rs"), /Cors::Echo\(origin\) => http::allow_origin\(response, &origin\)/);
  assert.equal((read("src/api/mod.rs").match(/allow_origin\(/g) ?? []).length, 1);
});

test("the HTTP API manages no organisation or plan, and its key operations need the admin scope", () => {
  // tests/api/openapi.test.mjs proves the routed set equals the documented set; this pins what
  // that set may contain: tenant operations only, and the organisation's own keys (admin scope,
  // docs/api.md §5.10) — never organisations, plans or another tenant.
  const spec = JSON.parse(read("openapi/openapi.json"));
  const allowed = new Set([
    "POST /collect", "POST /collect/batch", "POST /webhooks/auth0", "POST /webhooks/supabase", "POST /agent/heartbeat", "GET /agents", "GET /events", "GET /events/{id}", "GET /alerts", "GET /alerts/{id}",
    "PATCH /alerts/{id}", "GET /health", "GET /openapi.json", "GET /ui/mock-data", "POST /loki/api/v1/push", "POST /logs", "GET /logs", "GET /logs/{id}",
    "GET /events/export", "GET /alerts/export", "GET /logs/export",
    "GET /loki/api/v1/query_range", "GET /loki/api/v1/query", "GET /loki/api/v1/labels", "GET /loki/api/v1/label",
    "GET /loki/api/v1/label/{name}/values", "GET /loki/api/v1/series", "GET /loki/api/v1/status/buildinfo", "GET /ready",
    "GET /destinations", "POST /destinations", "GET /destinations/{id}", "PATCH /destinations/{id}",
    "DELETE /destinations/{id}", "POST /destinations/{id}/test", "POST /destinations/{id}/rotate-secret",
    "GET /destinations/{id}/deliveries", "GET /suppressions", "POST /suppressions", "GET /suppressions/{id}",
    "DELETE /suppressions/{id}", "GET /settings/detection", "PATCH /settings/detection",
    "GET /keys", "POST /keys", "DELETE /keys/{id}", "POST /keys/{id}/rotate",
    "GET /audit", "GET /audit/export", "GET /audit/verify", "GET /settings/origins", "PUT /settings/origins",
    "POST /session", "GET /session", "DELETE /session", "GET /members", "PUT /members/{email}", "DELETE /members/{email}",
  ]);
  const ops = Object.entries(spec.paths).flatMap(([path, item]) =>
    ["get", "post", "put", "patch", "delete"].filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`));
  for (const op of ops) assert.ok(allowed.has(op), `${op} is not a tenant operation: organisation and plan changes go through scripts/`);
  for (const op of ops) assert.doesNotMatch(op, /org|plan|admin|tenant|user/i, op);
  for (const op of ops.filter((o) => /\/(keys|audit|settings\/origins|members)/.test(o))) {
    const [m, p] = op.split(" ");
    assert.equal(spec.paths[p][m.toLowerCase()]["x-edgesoc-scope"], "admin", `${op} needs the admin scope`);
  }
  // Every operation except the spec itself requires a key.
  const open = ops.filter((op) => {
    const [m, p] = op.split(" ");
    const sec = spec.paths[p][m.toLowerCase()].security ?? spec.security;
    return Array.isArray(sec) && sec.length === 0;
  });
  // POST /session authenticates by the key in its body (docs/api.md §2.7), not a header.
  assert.deepEqual(open.sort(), ["GET /openapi.json", "POST /session"]);
  assert.ok(Array.isArray(spec.security) && spec.security.length > 0, "a key is required by default");
  const route = read("crates/core/src/api/route.rs");
  assert.doesNotMatch(route.slice(route.indexOf("let allowed"), route.indexOf("_ => return Err")), /"(orgs?|admin|plans?|tenants?)"/);
});

test("a D1 database is reached only through the primary's handle or an organisation's shard handle", () => {
  // src/d1/mod.rs keeps the store private; nothing else may open a binding or name the store.
  const d1 = read("src/d1/mod.rs");
  assert.match(d1, /^mod store;$/m, "the store module is private");
  assert.doesNotMatch(d1, /^pub (mod|use) store/m);
  assert.match(d1, /^pub struct Primary\(Store\);$/m, "Primary's store is a private field");
  assert.match(d1, /^pub struct Shard\(Store\);$/m, "so is Shard's");
  const outside = sources("src", ".rs").filter((f) => !f.startsWith("src/d1/"));
  assert.ok(outside.length > 20);
  for (const f of outside) {
    const text = read(f);
    assert.doesNotMatch(text, /\.d1\(|D1Database|\bStore::|: &?Store\b|d1::store/, `${f} opens D1 itself instead of through a handle`);
  }
  // The one place a binding is opened by name takes it from a Primary or a Shard being built.
  const store = read("src/d1/store.rs");
  assert.match(store, /pub\(super\) fn open\(/, "only src/d1/ can open a store");
});
