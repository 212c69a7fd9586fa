// The isolation matrix of tests/e2e/isolation.test.mjs with bravo's data on a second D1 database
// (crates/core/src/shards.rs): alpha and foxtrot on DB, bravo on DB_1, every read of stored rows
// looking in both. The same assertions hold: nothing of one organisation is seen or changed
// through another, whichever database holds it.
process.env.EDGESOC_ISOLATION_SHARD = "DB_1";
await import("./isolation.test.mjs");
