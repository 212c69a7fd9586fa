// Rollups for rows seeded straight into D1. The Worker adds every row it stores to the rollups
// in the same batch (crates/core/src/logs/rollups.rs); tests and benchmarks that insert rows by
// hand recompute an organisation's rollups afterwards with the same SQL the native tests
// compare against (crates/core/src/logs/rollups_rebuild.sql).

import { readFileSync } from "node:fs";

const SQL = new URL("../../crates/core/src/logs/rollups_rebuild.sql", import.meta.url);

/** The rebuild's statements, each binding the organisation id as `?1`. */
export function rebuildStatements() {
  return readFileSync(SQL, "utf8")
    .split(";\n")
    .map((s) => s.split("\n").filter((l) => !l.trimStart().startsWith("--")).join("\n").trim())
    .filter(Boolean);
}

/** Recomputes every rollup of `orgId` in the D1 database `db` (one batch). */
export async function rebuildRollups(db, orgId) {
  await db.batch(rebuildStatements().map((sql) => db.prepare(sql).bind(orgId)));
}
