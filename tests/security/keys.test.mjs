// The operator key path (scripts/create-key, scripts/revoke-key → scripts/lib/keys.mjs) against a
// real SQLite: Miniflare with one in-memory D1 database and the project's migrations, no Worker
// build. SECURITY.md cites these tests for key generation, hash-only storage and the quoting of
// operator input.
//
//   node --test tests/security/
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { createKeyStatements, hashKey, migrationStatements, newKey, orgIdFor, revokeKeyStatement } from "../../scripts/lib/keys.mjs";

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
