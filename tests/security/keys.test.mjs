// The operator key path (scripts/create-key, scripts/revoke-key → scripts/lib/keys.mjs) against a
// real SQLite: Miniflare with one in-memory D1 database and the project's migrations, no Worker
// build. SECURITY.md cites these tests for key generation, hash-only storage and the quoting of
// operator input.
//
//   node --test tests/security/
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { createKeyStatements, hashKey, migrationStatements, newKey, orgIdFor, revokeKeyStatement, storedScopes } from "../../scripts/lib/keys.mjs";
import { everyValue } from "../e2e/harness.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
let mf, db;

before(async () => {
  mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('') } }",
    compatibilityDate: "2026-04-20",
    d1Databases: { DB: "keys-test" },
  });
  db = await mf.getD1Database("DB");
  const dir = join(ROOT, "migrations");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    for (const stmt of migrationStatements(readFileSync(join(dir, file), "utf8"))) await db.prepare(stmt).run();
  }
});
after(() => mf?.dispose());

test("newKey: lsoc_live_ + 32 base62 characters, all distinct, no character favoured", () => {
  const N = 20_000;
  const keys = Array.from({ length: N }, () => newKey());
  assert.equal(new Set(keys).size, N);
  const counts = new Map();
  for (const k of keys) {
    assert.match(k, /^lsoc_live_[A-Za-z0-9]{32}$/);
    for (const c of k.slice(10)) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  assert.equal(counts.size, 62, "every base62 character occurs");
  // Without rejection sampling, `byte % 62` would give the first 8 characters 5/256 instead of
  // 4/256 (+25 %). Expected per character: 10,322 (sd ≈ 100); allow ±5 %.
  const expected = (N * 32) / 62;
  for (const [c, n] of counts) assert.ok(Math.abs(n - expected) < expected * 0.05, `${c}: ${n} vs ${expected}`);
});

test("hashKey is the Worker's SHA-256 of the trimmed key", () => {
  // The same vector as crates/core/src/access/ids.rs › tests::hash_is_lowercase_hex_sha256.
  assert.equal(hashKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(hashKey("  abc\n"), hashKey("abc"), "trimmed like ApiKey::from_header");
});

test("create-key stores only the hash and a 14-character prefix; hostile operator input stays literal", async () => {
  const org = "Evil'); DROP TABLE api_keys; --";
  const key = newKey();
  for (const stmt of createKeyStatements({ org, plan: "free", key })) await db.prepare(stmt).run();
  const o = await db.prepare("SELECT * FROM orgs WHERE id = ?").bind(orgIdFor(org)).first();
  assert.equal(o.name, org, "the name is stored as text, not executed");
  assert.equal(o.plan, "free");
  const rows = (await db.prepare("SELECT * FROM api_keys WHERE org_id = ?").bind(orgIdFor(org)).all()).results;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].key_hash, hashKey(key));
  assert.equal(rows[0].key_prefix, key.slice(0, 14));
  assert.equal(rows[0].revoked_at, null);
  const everything = JSON.stringify([
    (await db.prepare("SELECT * FROM orgs").all()).results,
    (await db.prepare("SELECT * FROM api_keys").all()).results,
  ]);
  assert.ok(!everything.includes(key.slice(14)), "the secret part of the key is nowhere in D1");
});

test("create-key refuses unknown plans and non-positive or non-integer overrides before any SQL", () => {
  const key = newKey();
  assert.throws(() => createKeyStatements({ org: "X", plan: "gold", key }), /plan must be one of/);
  assert.throws(() => createKeyStatements({ org: "", plan: "pro", key }), /org name is required/);
  for (const bad of ["0", "-1", "1.5", "1; DROP TABLE orgs", "abc"]) {
    assert.throws(() => createKeyStatements({ org: "X", plan: "custom", key, rateLimit: bad }), /positive integer/, bad);
    assert.throws(() => createKeyStatements({ org: "X", plan: "custom", key, quota: bad }), /positive integer/, bad);
    assert.throws(() => createKeyStatements({ org: "X", plan: "custom", key, retentionDays: bad }), /positive integer/, bad);
  }
});

test("create-key --scope stores the listed scopes in order, all four as every scope, and refuses others", async () => {
  assert.equal(storedScopes(undefined), null);
  assert.equal(storedScopes(["read", "ingest"]), "ingest,read");
  assert.equal(storedScopes("admin, respond,read,ingest"), null, "all four: every scope");
  for (const bad of [[], "", "root", ["ingest", "ingest'); DROP TABLE api_keys; --"]]) {
    assert.throws(() => createKeyStatements({ org: "X", plan: "pro", key: newKey(), scopes: bad }), /scope/, String(bad));
  }
  const key = newKey();
  for (const stmt of createKeyStatements({ org: "Scoped Org", plan: "pro", key, scopes: ["ingest"], name: "app's key" })) {
    await db.prepare(stmt).run();
  }
  const row = await db.prepare("SELECT id, name, scopes, created_by FROM api_keys WHERE key_hash = ?").bind(hashKey(key)).first();
  assert.match(row.id, /^key_[0-9a-f]{16}$/);
  assert.deepEqual([row.name, row.scopes, row.created_by], ["app's key", "ingest", "scripts/create-key"]);
});

test("revoke-key revokes by hash once; a second revoke matches nothing", async () => {
  const key = newKey();
  for (const stmt of createKeyStatements({ org: "Revoked Org", plan: "pro", key })) await db.prepare(stmt).run();
  const first = (await db.prepare(revokeKeyStatement(key)).all()).results;
  assert.deepEqual(first, [{ key_prefix: key.slice(0, 14) }]);
  const row = await db.prepare("SELECT revoked_at FROM api_keys WHERE key_hash = ?").bind(hashKey(key)).first();
  assert.ok(row.revoked_at > 0);
  assert.deepEqual((await db.prepare(revokeKeyStatement(key)).all()).results, [], "scripts/revoke-key then reports 'no active key matches'");
  assert.deepEqual((await db.prepare(revokeKeyStatement(newKey())).all()).results, [], "an unknown key revokes nothing");
});

test("scripts/create-key stores only the key's SHA-256: no column of any table holds the key", async () => {
  // The real script (scripts/create-key → scripts/lib/admin.mjs → wrangler d1 execute --local)
  // against a throwaway local D1 state, migrated by wrangler as scripts/dev migrates its own.
  const dir = mkdtempSync(join(tmpdir(), "edgesoc-create-key-"));
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };
  const run = (cmd, args) => execFileSync(cmd, args, { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  let reader;
  try {
    run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", dir]);
    const out = run(join(ROOT, "scripts/create-key"), ["--org", "Key Writer", "--plan", "pro", "--persist-to", dir]);
    const key = out.trim().split("\n").at(-1);
    assert.match(key, /^lsoc_live_[A-Za-z0-9]{32}$/, "the key alone on the last line");

    // Read what wrangler wrote: Miniflare on the same state and database id.
    const databaseId = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/^database_id = "([^"]+)"/m)[1];
    reader = new Miniflare({
      modules: true,
      script: "export default { fetch() { return new Response('') } }",
      compatibilityDate: "2026-04-20",
      d1Databases: { DB: databaseId },
      d1Persist: join(dir, "v3", "d1"),
    });
    const stored = await reader.getD1Database("DB");
    const org = await stored.prepare("SELECT * FROM orgs WHERE name = 'Key Writer'").first();
    assert.equal(org?.plan, "pro", "the script's database is the one read");
    const keys = (await stored.prepare("SELECT * FROM api_keys").all()).results;
    assert.equal(keys.length, 1);
    const sha256 = createHash("sha256").update(key, "utf8").digest("hex");
    assert.equal(keys[0].key_hash, sha256, "lowercase hex SHA-256 of the key");
    assert.equal(keys[0].key_prefix, key.slice(0, 14));
    assert.equal(keys[0].org_id, org.id);
    const values = await everyValue(stored);
    const holding = (needle) => values.filter((v) => v.text.includes(needle)).map((v) => `${v.table}.${v.column}`);
    assert.deepEqual(holding(key.slice(14)), [], "the secret part of the key is in no column");
    assert.deepEqual(holding(key.slice(14, 30)), [], "nor half of it");
    assert.deepEqual(holding(key.slice(0, 14)), ["api_keys.key_prefix"], "the prefix only where humans read it");
    assert.deepEqual(holding(sha256), ["api_keys.key_hash"], "the hash only where keys are looked up");
  } finally {
    await reader?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
