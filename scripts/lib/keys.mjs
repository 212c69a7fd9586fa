// API key and organisation helpers shared by scripts/create-key, scripts/dev and the tests.
// Keys come from the OS CSPRNG; only their SHA-256 is ever written to D1.
import { createHash, randomBytes } from "node:crypto";

const PLANS = new Set(["free", "pro", "enterprise", "custom"]);
/** The scopes a key can carry (docs/api.md §2.5; crates/core/src/access/scope.rs). */
export const SCOPES = ["ingest", "read", "respond", "admin"];
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A new live key: `lsoc_live_` + 32 base62 characters (~190 bits), unbiased. */
export function newKey(prefix = "lsoc_live_") {
  let out = "";
  while (out.length < 32) {
    for (const b of randomBytes(64)) {
      if (b < 248 && out.length < 32) out += ALPHABET[b % 62]; // 248 = 4 * 62: no modulo bias
    }
  }
  return prefix + out;
}

/** Lowercase hex SHA-256, as the Worker computes it. */
export function hashKey(key) {
  return createHash("sha256").update(key.trim(), "utf8").digest("hex");
}

/** A key's public id: `key_` + 16 hex digits (crates/core/src/access/keys.rs key_id). */
export function newKeyId() {
  return "key_" + randomBytes(8).toString("hex");
}

/**
 * The stored form of a scope list ("ingest,read", in SCOPES order), or null for every scope.
 * Accepts an array or a comma-separated string; throws on an unknown or empty list.
 */
export function storedScopes(scopes) {
  if (scopes === undefined || scopes === null) return null;
  const list = (Array.isArray(scopes) ? scopes : String(scopes).split(",")).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new Error(`--scope must list one or more of ${SCOPES.join(", ")}`);
  for (const s of list) if (!SCOPES.includes(s)) throw new Error(`unknown scope "${s}": use ${SCOPES.join(", ")}`);
  const set = SCOPES.filter((s) => list.includes(s));
  return set.length === SCOPES.length ? null : set.join(",");
}

/** Stable organisation id derived from its name. */
export function orgIdFor(name) {
  return "org_" + createHash("sha256").update(name, "utf8").digest("hex").slice(0, 16);
}

const sqlText = (v) => (v === null || v === undefined ? "NULL" : `'${String(v).replaceAll("'", "''")}'`);
const sqlInt = (v) => (v === null || v === undefined ? "NULL" : String(Math.trunc(Number(v))));

/**
 * SQL statements that create (or update) an organisation and register a key for it.
 * Values are validated and quoted here; the statements go to `wrangler d1 execute` or D1 directly.
 */
/** A D1 binding an organisation's data may live on (crates/core/src/shards.rs `ShardName`). */
export const SHARD = /^DB(_[A-Z0-9_]{1,32})?$/;

/** The shard an existing organisation is on, as a statement answering `shard` (NULL: DB). */
export function orgShardStatement(org) {
  return `SELECT coalesce(shard, 'DB') AS shard FROM orgs WHERE id = ${sqlText(orgIdFor(org))}`;
}

export function createKeyStatements({ org, plan, key, rateLimit, quota, retentionDays, scopes, name, shard, now = Date.now() }) {
  if (!org || typeof org !== "string") throw new Error("org name is required");
  if (shard !== undefined && shard !== null && !SHARD.test(shard)) {
    throw new Error("--shard must be a D1 binding name: DB, or DB_ and up to 32 of A-Z, 0-9, _");
  }
  if (!PLANS.has(plan)) throw new Error(`plan must be one of ${[...PLANS].join(", ")}`);
  for (const [name, v] of [["rate-limit", rateLimit], ["quota", quota], ["retention-days", retentionDays]]) {
    if (v !== undefined && v !== null && !(Number.isInteger(Number(v)) && Number(v) > 0)) {
      throw new Error(`--${name} must be a positive integer`);
    }
  }
  const id = orgIdFor(org);
  return [
    // A new organisation goes on `shard` (NULL: DB, the primary); an existing one stays where it is.
    `INSERT INTO orgs (id, name, plan, rate_limit_per_minute, monthly_event_quota, retention_days, created_at, shard) ` +
      `VALUES (${sqlText(id)}, ${sqlText(org)}, ${sqlText(plan)}, ${sqlInt(rateLimit)}, ${sqlInt(quota)}, ` +
      `${sqlInt(retentionDays)}, ${sqlInt(now)}, ${sqlText(shard && shard !== "DB" ? shard : null)}) ON CONFLICT(id) DO UPDATE SET plan = excluded.plan, ` +
      `rate_limit_per_minute = excluded.rate_limit_per_minute, monthly_event_quota = excluded.monthly_event_quota, ` +
      `retention_days = excluded.retention_days`,
    `INSERT INTO api_keys (key_hash, org_id, key_prefix, created_at, id, name, scopes, created_by) VALUES (` +
      `${sqlText(hashKey(key))}, ${sqlText(id)}, ${sqlText(key.slice(0, 14))}, ${sqlInt(now)}, ${sqlText(newKeyId())}, ` +
      `${sqlText(name ?? null)}, ${sqlText(storedScopes(scopes))}, 'scripts/create-key')`,
  ];
}

/** SQL that revokes a key by its hash (idempotent). */
export function revokeKeyStatement(key, now = Date.now()) {
  return `UPDATE api_keys SET revoked_at = ${sqlInt(now)} WHERE key_hash = ${sqlText(hashKey(key))} AND revoked_at IS NULL RETURNING key_prefix`;
}

/**
 * Splits a migration file into statements: comments removed, split on `;`, except inside a
 * trigger's `BEGIN … END` body (no `;` appears inside literals in our migrations).
 */
export function migrationStatements(sql) {
  const parts = sql
    .split("\n")
    .filter((l) => !l.trim().startsWith("--"))
    .join("\n")
    .split(";");
  const out = [];
  let pending = "";
  for (const part of parts) {
    pending = pending ? `${pending};${part}` : part;
    const open = /\bCREATE\s+TRIGGER\b/i.test(pending) && !/\bEND\s*$/i.test(pending.trim());
    if (open) continue;
    if (pending.trim()) out.push(pending.trim());
    pending = "";
  }
  if (pending.trim()) out.push(pending.trim());
  return out;
}
