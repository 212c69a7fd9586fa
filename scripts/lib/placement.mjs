// Where scripts/create-key puts a new organisation when no --shard is named (docs/CAPACITY.md,
// "Growing past one database"): on the configured shard with the most room below a ceiling
// (8 GB unless told otherwise), measured from the size D1 reports for each database.
//
// * The shards are the primary `DB` and the `D1_SHARDS` var, read from the wrangler config by
//   wrangler itself (`unstable_readConfig`), as crates/core/src/shards.rs `configured` reads them.
// * Remote (`--remote`): `wrangler d1 info <database_name> --json`, field `database_size` (the
//   Cloudflare API's `file_size`, the database's size in bytes).
// * Local: the `size_after` Miniflare's D1 reports for a `SELECT 1` on the database wrangler
//   itself opens for `d1 execute --local` (same persistence directory, same id). wrangler's own
//   `--json` output drops that field, and D1's authorizer refuses `PRAGMA page_count`.
// The choice itself (`choosePlacement`) is pure; tests/security/placement.test.mjs tests it and
// runs scripts/create-key against two local databases.
import { join, resolve, dirname } from "node:path";
import { SHARD } from "./keys.mjs";

/** D1's sizes are decimal: 10 GB = 10^10 bytes. */
export const GB = 1e9;
/** The planning ceiling of one database (docs/CAPACITY.md, "One database"). */
export const DEFAULT_CEILING_GB = 8;

/** "413.70 KB", "2.41 MB", "8.05 GB": decimal units, as D1 states its limits. */
export function formatBytes(bytes) {
  for (const [unit, size] of [["GB", GB], ["MB", 1e6], ["KB", 1e3]]) {
    if (Math.abs(bytes) >= size) return `${(bytes / size).toFixed(2)} ${unit}`;
  }
  return `${bytes} bytes`;
}

/**
 * The shards of a `D1_SHARDS` value, the primary first, then each binding name once (split on
 * commas and white space), and apart the names that are not binding names.
 */
export function configuredShards(value) {
  const shards = ["DB"];
  const invalid = [];
  for (const name of String(value ?? "").split(/[,\s]+/).filter(Boolean)) {
    if (!SHARD.test(name)) invalid.push(name);
    else if (!shards.includes(name)) shards.push(name);
  }
  return { shards, invalid };
}

/**
 * The choice: `sizes` is `[{ shard, bytes }]` in configured order, `ceiling` in bytes. Returns
 * `{ shard, room }` for the shard with the most room below the ceiling (ties: the first), or
 * `{ shard: null, refusal }` when every shard is at or over it.
 */
export function choosePlacement(sizes, ceiling) {
  if (!(Number.isFinite(ceiling) && ceiling > 0)) throw new Error("the ceiling must be a positive number of bytes");
  let best = null;
  for (const { shard, bytes } of sizes) {
    if (!(Number.isFinite(bytes) && bytes >= 0)) throw new Error(`no size for ${shard}: ${bytes}`);
    const room = ceiling - bytes;
    if (room > 0 && (best === null || room > best.room)) best = { shard, room };
  }
  if (best) return best;
  return {
    shard: null,
    refusal:
      `every shard is at or over the ${formatBytes(ceiling)} ceiling (${describeSizes(sizes)}): ` +
      `add a shard (docs/CAPACITY.md, "Growing past one database") or name one with --shard`,
  };
}

/** "DB 2.41 MB, DB_1 413.70 KB". */
export function describeSizes(sizes) {
  return sizes.map(({ shard, bytes }) => `${shard} ${formatBytes(bytes)}`).join(", ") || "none";
}

/**
 * The configured shards as `[{ binding, name, localId }]` (name: `database_name`, for `d1 info`;
 * localId: the id wrangler opens locally), and the local state's root, from the wrangler config
 * at `configPath` (undefined: the one wrangler finds).
 */
export async function readShards(configPath, warn = console.error) {
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig({ config: configPath }, { hideWarnings: true });
  const { shards, invalid } = configuredShards(config.vars?.D1_SHARDS);
  if (invalid.length) warn(`warning: D1_SHARDS names that are not D1 bindings, left out: ${invalid.join(", ")}`);
  const declared = config.d1_databases ?? [];
  const file = config.userConfigPath ?? config.configPath ?? "the wrangler config";
  return {
    shards: shards.map((binding) => {
      const d = declared.find((d) => d.binding === binding);
      if (!d) throw new Error(`D1_SHARDS lists ${binding}, but ${file} declares no [[d1_databases]] binding ${binding}`);
      return { binding, name: d.database_name ?? binding, localId: d.preview_database_id ?? d.database_id ?? d.binding };
    }),
    // As wrangler's getLocalPersistencePath: --persist-to, else .wrangler/state by the config.
    stateDir: (persistTo) =>
      persistTo ? resolve(persistTo) : resolve(config.userConfigPath ? dirname(config.userConfigPath) : process.cwd(), ".wrangler/state"),
  };
}

/** Each local database's size in bytes, as Miniflare's D1 reports it (`meta.size_after`). */
export async function localSizes(shards, stateDir) {
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    modules: true,
    script: "",
    d1Persist: join(stateDir, "v3", "d1"),
    d1Databases: Object.fromEntries(shards.map((s) => [s.binding, s.localId])),
  });
  try {
    const out = [];
    for (const s of shards) {
      const { meta } = await (await mf.getD1Database(s.binding)).prepare("SELECT 1").run();
      out.push({ shard: s.binding, bytes: Number(meta?.size_after) });
    }
    return out;
  } finally {
    await mf.dispose();
  }
}

/** A remote database's size in bytes from `wrangler d1 info <name> --json` (its output, parsed). */
export function remoteSize(info) {
  // wrangler renames the API's file_size to database_size, unless it is 0 (falsy).
  return Number(info?.database_size ?? info?.file_size);
}
