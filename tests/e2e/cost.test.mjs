// The cost guard (issue 18): D1 rows written per stored event, all in — POST /collect and the
// queue consumer that stores and enriches it, detection, and the daily purge that deletes it —
// counted by the D1 cost meter (EDGESOC_D1_METER=1, src/meter.rs) on the generated day that
// bench/cost.mjs measures (bench/day.mjs, replayed by bench/meter.mjs), for one organisation.
// Rows written are what D1 bills most for an event, and every index entry and trigger row is
// one: the test fails when the count rises above its ceiling, so a new index, trigger or
// per-row write cannot slip in unmeasured. The same for a raw line through the Loki push.
import { test } from "node:test";
import assert from "node:assert/strict";
import { day } from "../../bench/day.mjs";
import { linesEnd, meterLog, replay } from "../../bench/meter.mjs";
import { start } from "./harness.mjs";

/** Issue 18's goal: at most this many D1 rows written per event, all in. */
const TARGET_ROWS_WRITTEN_PER_EVENT = 10;
/** Today's measure on this day (15.07 on 2026-12-06: ingest 11.94, detection 0.72, purge 2.41) plus half a
 *  row: one more index entry per event (+1.0 at ingest) fails. 36.68 before issue 18's changes;
 *  the rollups kept per batch and purged by bucket (migration 0017) took off 13.2, the lean
 *  indexes (0016) 4.0, each event stored once with its log item in its row (0019) 4.3 (19.41
 *  before it: ingest 15.29, purge 3.41). Lower it as the next land, down to
 *  TARGET_ROWS_WRITTEN_PER_EVENT. Detection's share moves by a few hundredths with how the
 *  consumer's batches fall. */
const MAX_ROWS_WRITTEN_PER_EVENT = 15.6;
/** The same for a raw log line (16.02 on 2026-12-06; 30.61 before issue 18's changes). */
const MAX_ROWS_WRITTEN_PER_LINE = 16.5;

test("D1 rows written per event and per log line stay under their ceilings (issue 18)", async (t) => {
  const log = meterLog();
  const app = await start({ bindings: { EDGESOC_D1_METER: "1" }, runtimeStdio: log.runtimeStdio });
  try {
    const now = Date.now();
    const d = day({ orgs: 1, users: 40, end: linesEnd(now) });
    const r = await replay(app, log, d, { batch: 1, start: now });
    const { collect, consumer } = r.events;
    assert.equal(r.stored.events, r.events.count, "every event stored");
    assert.equal(collect.invocations, r.events.count, "one meter line per /collect request");
    assert.ok(consumer.invocations > 0 && consumer.rows_written > 0, "the consumer's lines");
    assert.ok(consumer.detect.statements > 0, "detection's share is marked");
    assert.ok(r.reads.events_by_actor.invocations === 1, "the filtered read logged once");
    assert.ok(log.lines.every((l) => !l.route.includes("?")), "no query string in a route");

    const ingest = (collect.rows_written + consumer.rows_written - consumer.detect.rows_written) / r.events.count;
    const detection = consumer.detect.rows_written / r.events.count;
    const purge = r.purge_events.rows_written / r.events.count;
    const perEvent = ingest + detection + purge;
    const perLine = (r.lines.push.rows_written + r.purge_lines.rows_written) / r.lines.count;
    const shown = `${perEvent.toFixed(2)} (ingest ${ingest.toFixed(2)}, detection ${detection.toFixed(2)}, purge ${purge.toFixed(2)})`;
    t.diagnostic(`${r.events.count} events: ${shown} rows written per event; ${perLine.toFixed(2)} per log line (${r.lines.count})`);
    assert.ok(perEvent <= MAX_ROWS_WRITTEN_PER_EVENT,
      `D1 rows written per event ${shown} above the ceiling ${MAX_ROWS_WRITTEN_PER_EVENT} (target ${TARGET_ROWS_WRITTEN_PER_EVENT}): ` +
      "a new index, trigger or per-row write? Measure it with scripts/bench (bench/cost.mjs) first");
    assert.ok(perLine <= MAX_ROWS_WRITTEN_PER_LINE, `D1 rows written per log line ${perLine.toFixed(2)} above ${MAX_ROWS_WRITTEN_PER_LINE}`);
  } finally {
    await app.dispose();
  }
});
