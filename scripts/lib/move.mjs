// Moves one organisation's data from its D1 database to another (issue 23; docs/CAPACITY.md,
// "Moving an organisation"). Works on D1 bindings (prepare/bind/all/batch): the ones
// scripts/move-org gets from wrangler, or Miniflare's in the tests.
//
// The steps, each safe to run again (a move that stops is resumed by running it again):
//  1. mark the organisation moving (`orgs.moving_to`, migrations/0032_moves.sql) and wait for
//     every isolate to see it: from then on the Worker changes none of its data (changes get 503
//     and Retry-After, queued events and deliveries wait in their queues), reads go on;
//  2. copy its rows in chunks, each chunk in one batch with its progress (`move_progress` on the
//     target), so a chunk is never copied twice; items (events and raw lines, one id sequence)
//     are numbered anew on the target in their original order; rollups are rebuilt there from
//     the items (crates/core/src/logs/rollups_rebuild.sql);
//  3. verify every table: row counts and a SHA-256 over the rows (items without their ids), and
//     copy again what a late write changed;
//  4. switch the registry (`orgs.shard`), wait, clear the mark: changes resume on the target;
//  5. delete the rows left on the source, in chunks.
import { createHash } from "node:crypto";
import { rebuildStatements } from "./rollups.mjs";

/** Tables of the primary that are not an organisation's data (crates/core/src/shards.rs). */
const GLOBAL = new Set(["orgs", "api_keys", "sessions", "members", "held_commits", "audit_outbox"]);
/** Tables the move keeps for itself or rebuilds instead of copying. */
const OWN = new Set(["move_progress", "rollup_marks"]);
/** The rollups: recomputed from the moved items on the target. */
export const ROLLUPS = [...new Set(rebuildStatements().flatMap((s) => [...s.matchAll(/DELETE FROM (\w+) WHERE org_id/g)].map((m) => m[1])))];
/** Items share one id sequence per database (crates/core/src/ingest/record.rs NEXT_ITEM_ID_BASE). */
const ITEMS = { events: "rowid", logs: "id" };
/** An organisation mark that keeps the target's rollup catch-up off the items being copied. */
const HOLD_MARK = Number.MAX_SAFE_INTEGER;
const NEXT_ID = "(SELECT max(coalesce((SELECT max(rowid) FROM events), 0), coalesce((SELECT max(id) FROM logs), 0), " +
  "coalesce((SELECT upto FROM rollup_marks WHERE org_id = ''), 0)) + 1)";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rows = async (db, sql, ...params) => (await db.prepare(sql).bind(...params).all()).results;
const shardColumn = (name) => (name === "DB" ? null : name);

/** The organisation-scoped tables of `db` with their columns (generated ones aside) and keys. */
export async function orgTables(db) {
  const names = (await rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name"))
    .map((r) => r.name);
  const out = [];
  for (const name of names) {
    if (GLOBAL.has(name) || OWN.has(name)) continue;
    const info = await rows(db, `SELECT name, pk FROM pragma_table_info('${name}') ORDER BY cid`);
    const columns = info.map((c) => c.name);
    if (!columns.includes("org_id")) continue;
    const key = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    out.push({ name, columns, key: key.length ? key : ["rowid"], rollup: ROLLUPS.includes(name), item: name in ITEMS });
  }
  return out;
}

/**
 * Moves organisation `org` (its id) to the database `to`. `dbs` maps binding names to D1
 * bindings (the primary `DB`, the source and `to`). `settleMs`: how long every isolate takes to
 * see a registry change (more than TENANT_CACHE_SECONDS and a consumer batch). `chunk`: rows
 * per batch. `log`: progress lines. `stopAfterChunks` stops early, as a crash would (tests).
 */
export async function moveOrg({ dbs, org, to, settleMs = 15_000, chunk = 200, log = () => {}, stopAfterChunks = Infinity }) {
  const primary = dbs.DB;
  const [reg] = await rows(primary, "SELECT coalesce(shard, 'DB') AS shard, moving_to FROM orgs WHERE id = ?", org);
  if (!reg) throw new Error(`no organisation ${org}`);
  if (!dbs[to]) throw new Error(`${to} is not a D1 binding here`);
  const target = dbs[to];
  const [started] = await rows(target, "SELECT after FROM move_progress WHERE org_id = ? AND tbl = ''", org);
  const from = started?.after ?? reg.shard;
  if (reg.moving_to && reg.moving_to !== to) throw new Error(`${org} is being moved to ${reg.moving_to}, not ${to}`);
  if (!reg.moving_to && reg.shard === to && !started) throw new Error(`${org} is on ${to} already`);
  if (!dbs[from]) throw new Error(`${from} is not a D1 binding here`);
  const source = dbs[from];
  const tables = await orgTables(source);
  const state = { chunks: 0, stopAfterChunks };
  // Switched but not yet released: a move that stopped during its second wait.
  let switched = reg.shard === to && reg.moving_to === to;

  if (reg.shard === from) {
    if (!started) {
      const [n] = await rows(target, "SELECT count(*) AS n FROM events WHERE org_id = ?", org);
      if (n.n > 0) throw new Error(`${to} holds rows of ${org} already and no move started there`);
    }
    // 1. Mark, and let every isolate see it.
    await primary.prepare("UPDATE orgs SET moving_to = ? WHERE id = ?").bind(to, org).run();
    await target.batch([
      target.prepare("INSERT INTO move_progress (org_id, tbl, after) VALUES (?, '', ?) ON CONFLICT DO NOTHING").bind(org, from),
      target.prepare("INSERT INTO rollup_marks (org_id, upto, at) VALUES (?, ?, 0) ON CONFLICT DO UPDATE SET upto = excluded.upto").bind(org, HOLD_MARK),
    ]);
    await log(`${org}: moving from ${from} to ${to}; waiting ${settleMs} ms for every isolate to see it`);
    await sleep(settleMs);
    // 2–3. Copy, verify, copy again what changed.
    for (let round = 1; ; round++) {
      for (const t of tables.filter((t) => !t.rollup && !t.item)) await copyTable(source, target, org, t, chunk, state, log);
      await copyItems(source, target, org, tables, chunk, state, log);
      const diff = await differences(source, target, org, tables);
      if (diff.length === 0) break;
      if (round === 3) throw new Error(`${org}: ${diff.join(", ")} still differ after three rounds; is something writing? (scripts/move-org --abort undoes the copy)`);
      // Items written late are appended (the next round copies them on); other tables are copied again.
      await log(`${org}: ${diff.join(", ")} changed during the copy; copying again`);
      for (const name of diff.filter((n) => !(n in ITEMS))) {
        await target.batch([
          target.prepare(`DELETE FROM "${name}" WHERE org_id = ?`).bind(org),
          target.prepare("DELETE FROM move_progress WHERE org_id = ? AND tbl = ?").bind(org, name),
        ]);
      }
    }
    await target.batch(rebuildStatements().map((sql) => target.prepare(sql).bind(org)));
    await log(`${org}: copied and verified; rollups rebuilt on ${to}`);
    // 4. Switch, let every isolate see the new shard, then let changes resume.
    await primary.prepare("UPDATE orgs SET shard = ? WHERE id = ? AND moving_to = ?").bind(shardColumn(to), org, to).run();
    switched = true;
  } else if (switched) {
    await log(`${org}: resuming after the switch to ${to}`);
  }
  if (switched) {
    // Isolates that still hold the old shard only read it: its rows stay until they all see the new one.
    await log(`${org}: now on ${to}; waiting ${settleMs} ms before changes resume`);
    await sleep(settleMs);
  }
  await primary.prepare("UPDATE orgs SET moving_to = NULL WHERE id = ? AND moving_to = ?").bind(org, to).run();
  // 5. Delete what is left on the source (nothing reads it any more).
  let deleted = 0;
  for (const t of [...tables, { name: "rollup_marks", key: ["org_id"] }]) deleted += await deleteOrg(source, org, t, chunk);
  await target.prepare("DELETE FROM move_progress WHERE org_id = ?").bind(org).run();
  await log(`${org}: ${deleted} rows deleted from ${from}; the move is complete`);
  return { from, to, deleted };
}

/** Undoes a move that has not switched: target rows and progress deleted, the mark cleared. */
export async function abortMove({ dbs, org, chunk = 200 }) {
  const [reg] = await rows(dbs.DB, "SELECT coalesce(shard, 'DB') AS shard, moving_to FROM orgs WHERE id = ?", org);
  if (!reg?.moving_to) throw new Error(`${org} is not being moved`);
  if (reg.shard === reg.moving_to) throw new Error(`${org} has switched to ${reg.shard} already: run the move again to finish it`);
  const target = dbs[reg.moving_to];
  for (const t of await orgTables(target)) await deleteOrg(target, org, t, chunk);
  await target.batch([
    target.prepare("DELETE FROM move_progress WHERE org_id = ?").bind(org),
    target.prepare("DELETE FROM rollup_marks WHERE org_id = ?").bind(org),
  ]);
  await dbs.DB.prepare("UPDATE orgs SET moving_to = NULL WHERE id = ?").bind(org).run();
}

/** The progress of `tbl` on the target: the last source key copied (or null) and rows so far. */
async function progress(target, org, tbl) {
  const [p] = await rows(target, "SELECT after, copied FROM move_progress WHERE org_id = ? AND tbl = ?", org, tbl);
  return { after: p?.after ? JSON.parse(p.after) : null, copied: p?.copied ?? 0 };
}

const saveProgress = (target, org, tbl, after, n) =>
  target.prepare("INSERT INTO move_progress (org_id, tbl, after, copied) VALUES (?, ?, ?, ?) " +
    "ON CONFLICT DO UPDATE SET after = excluded.after, copied = copied + excluded.copied").bind(org, tbl, JSON.stringify(after), n);

function countChunk(state) {
  if (++state.chunks > state.stopAfterChunks) throw new Error(`stopped after ${state.stopAfterChunks} chunks`);
}

/** Copies a table keyed by its primary key, chunk by chunk from where the last copy stopped. */
async function copyTable(source, target, org, t, chunk, state, log) {
  const cols = t.columns.map((c) => `"${c}"`).join(", ");
  const key = t.key.map((c) => `"${c}"`).join(", ");
  // A plain INSERT: a key some other organisation holds on the target fails the move, never overwrites.
  const insert = `INSERT INTO "${t.name}" (${cols}) VALUES (${t.columns.map(() => "?").join(", ")})`;
  let { after, copied } = await progress(target, org, t.name);
  for (;;) {
    const past = after ? ` AND (${key}) > (${t.key.map(() => "?").join(", ")})` : "";
    const batch = await rows(source, `SELECT ${cols} FROM "${t.name}" WHERE org_id = ?${past} ORDER BY ${key} LIMIT ${chunk}`, org, ...(after ?? []));
    if (batch.length === 0) break;
    countChunk(state);
    after = t.key.map((c) => batch.at(-1)[c]);
    await target.batch([
      ...batch.map((r) => target.prepare(insert).bind(...t.columns.map((c) => r[c]))),
      saveProgress(target, org, t.name, after, batch.length),
    ]);
    copied += batch.length;
  }
  if (copied) await log(`  ${t.name}: ${copied} rows`);
}

/** Copies events and raw lines in their one id order, each numbered anew on the target. */
async function copyItems(source, target, org, tables, chunk, state, log) {
  const items = Object.keys(ITEMS).map((name) => tables.find((t) => t.name === name));
  let { after, copied } = await progress(target, org, "items");
  after ??= 0;
  for (;;) {
    const found = [];
    for (const t of items) {
      const id = ITEMS[t.name];
      const cols = t.columns.filter((c) => c !== "id" || t.name !== "logs").map((c) => `"${c}"`).join(", ");
      for (const r of await rows(source, `SELECT ${id} AS _id, ${cols} FROM "${t.name}" WHERE org_id = ? AND ${id} > ? ORDER BY ${id} LIMIT ${chunk}`, org, after)) {
        found.push({ t, r });
      }
    }
    if (found.length === 0) break;
    countChunk(state);
    const take = found.sort((a, b) => a.r._id - b.r._id).slice(0, chunk);
    after = take.at(-1).r._id;
    await target.batch([
      ...take.map(({ t, r }) => {
        const cols = Object.keys(r).filter((c) => c !== "_id");
        const idCol = t.name === "events" ? "rowid" : "id";
        const sql = `INSERT INTO "${t.name}" (${idCol}, ${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${NEXT_ID}, ${cols.map(() => "?").join(", ")})`;
        return target.prepare(sql).bind(...cols.map((c) => r[c]));
      }),
      saveProgress(target, org, "items", after, take.length),
    ]);
    copied += take.length;
  }
  if (copied) await log(`  items (events and raw lines): ${copied}`);
}

/** The tables whose rows of `org` differ between source and target (items compared in order,
 *  without their ids; rollups are rebuilt, not compared). */
async function differences(source, target, org, tables) {
  const out = [];
  for (const t of tables.filter((t) => !t.rollup)) {
    const [a, b] = await Promise.all([digest(source, org, t), digest(target, org, t)]);
    if (a !== b) out.push(t.name);
  }
  return out;
}

/** A SHA-256 of the organisation's rows of `t` in key order (items: in id order, ids left out). */
export async function digest(db, org, t, chunk = 500) {
  const hash = createHash("sha256");
  const cols = t.columns.filter((c) => !(t.name === "logs" && c === "id")).map((c) => `"${c}"`).join(", ");
  const order = t.item ? ITEMS[t.name] : t.key.map((c) => `"${c}"`).join(", ");
  let n = 0;
  for (let offset = 0; ; offset += chunk) {
    const batch = await rows(db, `SELECT ${cols} FROM "${t.name}" WHERE org_id = ? ORDER BY ${order} LIMIT ${chunk} OFFSET ${offset}`, org);
    for (const r of batch) hash.update(JSON.stringify(r) + "\n");
    n += batch.length;
    if (batch.length < chunk) break;
  }
  return `${n}:${hash.digest("hex")}`;
}

/** Deletes the organisation's rows of `t` from `db`, a chunk per statement. */
async function deleteOrg(db, org, t, chunk) {
  const key = t.key.map((c) => `"${c}"`).join(", ");
  let deleted = 0;
  for (;;) {
    const res = await db.prepare(`DELETE FROM "${t.name}" WHERE (${key}) IN (SELECT ${key} FROM "${t.name}" WHERE org_id = ? LIMIT ${chunk})`).bind(org).run();
    const n = res.meta?.changes ?? 0;
    deleted += n;
    if (n === 0) return deleted;
  }
}
