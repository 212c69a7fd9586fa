// Placement of a new organisation (scripts/lib/placement.mjs, docs/CAPACITY.md "Growing past one
// database"): the pure choice, and the real scripts/create-key against two local databases in a
// throwaway state, one made bigger than the other.
//
//   node --test tests/security/
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { migrationStatements, orgIdFor } from "../../scripts/lib/keys.mjs";
import { GB, choosePlacement, configuredShards, formatBytes, remoteSize } from "../../scripts/lib/placement.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const MB = 1e6;

test("placement: the shard with the most room below the ceiling, the first of equals", () => {
  const ceiling = 8 * GB;
  assert.deepEqual(choosePlacement([{ shard: "DB", bytes: 3 * GB }, { shard: "DB_1", bytes: 1 * GB }], ceiling), { shard: "DB_1", room: 7 * GB });
  assert.deepEqual(choosePlacement([{ shard: "DB", bytes: 1 * GB }, { shard: "DB_1", bytes: 3 * GB }], ceiling), { shard: "DB", room: 7 * GB });
  assert.equal(choosePlacement([{ shard: "DB", bytes: 2 * GB }, { shard: "DB_1", bytes: 2 * GB }], ceiling).shard, "DB", "a tie: DB, first in D1_SHARDS order");
  assert.equal(
    choosePlacement([{ shard: "DB", bytes: 5 * GB }, { shard: "DB_1", bytes: 2 * GB }, { shard: "DB_2", bytes: 2 * GB }], ceiling).shard,
    "DB_1", "a tie between shards: the first configured",
  );
  assert.equal(choosePlacement([{ shard: "DB", bytes: 0 }], ceiling).shard, "DB", "one database: DB while it has room");
  assert.equal(choosePlacement([{ shard: "DB", bytes: 9 * GB }, { shard: "DB_1", bytes: 7.9 * GB }], ceiling).shard, "DB_1", "a shard over the ceiling is skipped");
});

test("placement: refused when every shard is at or over the ceiling, naming the sizes and what to do", () => {
  const full = [{ shard: "DB", bytes: 8 * GB }, { shard: "DB_1", bytes: 9.5 * GB }];
  const choice = choosePlacement(full, 8 * GB);
  assert.equal(choice.shard, null, "at the ceiling counts as full");
  assert.equal(
    choice.refusal,
    'every shard is at or over the 8.00 GB ceiling (DB 8.00 GB, DB_1 9.50 GB): add a shard (docs/CAPACITY.md, "Growing past one database") or name one with --shard',
  );
  assert.equal(choosePlacement([], 8 * GB).shard, null, "no shard at all: refused");
  assert.throws(() => choosePlacement([{ shard: "DB", bytes: NaN }], 8 * GB), /no size for DB/, "an unmeasured shard is an error, not room");
  assert.throws(() => choosePlacement([{ shard: "DB", bytes: 1 }], 0), /ceiling/);
});

test("placement: D1_SHARDS read as the Worker reads it; sizes as wrangler d1 info reports them", () => {
  // crates/core/src/shards.rs configured: the primary first, commas or white space, no duplicates.
  assert.deepEqual(configuredShards(undefined), { shards: ["DB"], invalid: [] });
  assert.deepEqual(configuredShards("DB_1, DB_2\nDB_1 DB"), { shards: ["DB", "DB_1", "DB_2"], invalid: [] });
  assert.deepEqual(configuredShards("DB_1,db_2,OTHER"), { shards: ["DB", "DB_1"], invalid: ["db_2", "OTHER"] });
  // wrangler renames the API's file_size to database_size, except when it is 0.
  assert.equal(remoteSize({ uuid: "x", name: "edgesoc", database_size: 7_340_032, num_tables: 40 }), 7_340_032);
  assert.equal(remoteSize({ uuid: "x", name: "edgesoc", file_size: 0 }), 0);
  assert.ok(Number.isNaN(remoteSize({ uuid: "x" })), "no size reported: no number (choosePlacement refuses to guess)");
  assert.deepEqual([formatBytes(8 * GB), formatBytes(2.4 * MB), formatBytes(413_696), formatBytes(12)], ["8.00 GB", "2.40 MB", "413.70 KB", "12 bytes"]);
});

test("scripts/create-key places a new organisation on the local database with more room, keeps an existing one, refuses when all are full", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edgesoc-placement-"));
  const ids = { DB: "00000000-0000-0000-0000-00000000000a", DB_1: "00000000-0000-0000-0000-00000000000b" };
  const config = join(dir, "wrangler.toml");
  writeFileSync(config, [
    'name = "edgesoc-placement-test"',
    'compatibility_date = "2026-04-20"',
    "[vars]",
    'D1_SHARDS = "DB_1"',
    ...Object.entries(ids).flatMap(([binding, id]) => [
      "[[d1_databases]]", `binding = "${binding}"`, `database_name = "edgesoc-${binding}"`, `database_id = "${id}"`,
    ]),
  ].join("\n") + "\n");
  // Both databases in the state wrangler opens for `--persist-to dir`, migrated alike.
  const open = () => new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('') } }",
    compatibilityDate: "2026-04-20",
    d1Databases: ids,
    d1Persist: join(dir, "v3", "d1"),
  });
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };
  const createKey = (org, ...more) => spawnSync(
    join(ROOT, "scripts/create-key"),
    ["--org", org, "--plan", "pro", "--persist-to", dir, "--config", config, ...more],
    { cwd: ROOT, env, encoding: "utf8" },
  );
  let mf;
  try {
    mf = open();
    const migrations = join(ROOT, "migrations");
    const statements = readdirSync(migrations).filter((f) => f.endsWith(".sql")).sort()
      .flatMap((file) => migrationStatements(readFileSync(join(migrations, file), "utf8")));
    for (const binding of Object.keys(ids)) {
      const db = await mf.getD1Database(binding);
      await db.batch(statements.map((stmt) => db.prepare(stmt)));
    }
    // DB, first in order and so the choice of a tie, is made 2 MB bigger.
    const primary = await mf.getD1Database("DB");
    await primary.prepare("CREATE TABLE ballast (b BLOB)").run();
    await primary.prepare("INSERT INTO ballast VALUES (randomblob(2000000))").run();
    await mf.dispose();
    mf = null;

    const placed = createKey("Placed");
    assert.equal(placed.status, 0, placed.stderr);
    assert.match(placed.stdout.trim().split("\n").at(-1), /^lsoc_live_[A-Za-z0-9]{32}$/, "the key alone on the last line");
    assert.match(placed.stderr, /placing "Placed" on DB_1, the shard with the most room below the 8\.00 GB ceiling \(DB 2\.\d\d MB, DB_1 \d+\.\d\d KB\)/);

    const kept = createKey("Placed", "--ceiling-gb", "0.0001");
    assert.equal(kept.status, 0, `an existing organisation is not placed again: ${kept.stderr}`);
    assert.match(kept.stderr, /organisation "Placed" exists on DB_1 and stays there/);

    const refused = createKey("Refused", "--ceiling-gb", "0.0001");
    assert.equal(refused.status, 2, refused.stderr);
    assert.equal(refused.stdout.includes("lsoc_live_"), false, "no key printed");
    assert.match(
      refused.stderr,
      /error: every shard is at or over the 100\.00 KB ceiling \(DB 2\.\d\d MB, DB_1 \d+\.\d\d KB\): add a shard \(docs\/CAPACITY\.md, "Growing past one database"\)/,
    );

    const typo = createKey("Typo", "--shard", "DB_9");
    assert.equal(typo.status, 2, typo.stderr);
    assert.match(typo.stderr, /error: DB_9 is not DB or one of D1_SHARDS/, "a shard the Worker does not serve is refused");

    mf = open();
    const orgs = (await (await mf.getD1Database("DB")).prepare("SELECT id, shard FROM orgs ORDER BY name").all()).results;
    assert.deepEqual(orgs, [{ id: orgIdFor("Placed"), shard: "DB_1" }], "Placed on DB_1, Refused and Typo nowhere");
    const keys = (await (await mf.getD1Database("DB")).prepare("SELECT count(*) AS n FROM api_keys").first()).n;
    assert.equal(keys, 2, "a key for each run that succeeded, on the primary");
  } finally {
    await mf?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
