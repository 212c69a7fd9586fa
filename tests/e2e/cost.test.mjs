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
import { linesEnd, meterLog, replay, rowsWritten } from "../../bench/meter.mjs";
import { start } from "./harness.mjs";

/** Issue 18's goal: at most this many D1 rows written per event, all in. */
const TARGET_ROWS_WRITTEN_PER_EVENT = 10;
/** Today's measure on this day with a catch-up every batch (13.13 on 2026-12-07: ingest 4.65,
 *  rollups 5.19 — with the hourly cron's fold of the events' hour into log_source_hours —,
 *  detection 1.01, purge 2.27; the raw lines fill the UTC day before the run's, so
 *  the figures do not move with the hour it runs at, bench/meter.mjs linesEnd) plus about half a
 *  row: one more index entry per event (+1.0 at ingest) fails. 36.68 before issue 18's changes;
 *  the rollups kept per batch and purged by bucket (migration 0017) took off 13.2, the lean
 *  indexes (0016) 4.0, each event stored once with its log item in its row (0019) 4.3,
 *  event_counts caught up with the rollups (0020) and two event indexes made leaner (0021):
 *  15.07 before them, though then each event's rollups were written with it; log_source_hours
 *  summed once an hour (0030) 1.2. Each kind of item
 *  is charged the rows of the catch-ups that counted it (bench/meter.mjs rowsWritten); at the
 *  default interval they fall with the traffic (bench/cost.mjs). Lower it as the next land,
 *  down to TARGET_ROWS_WRITTEN_PER_EVENT. Detection's share moves by a few hundredths with how
 *  the consumer's batches fall. */
const MAX_ROWS_WRITTEN_PER_EVENT = 13.6;
/** The same for a raw log line (17.33 on 2026-12-07: ingest 3.43, rollups 8.79, purge 5.10 —
 *  the day's lines reach the Worker after their hours closed, so they go to log_source_hours
 *  directly, as late lines do —,
 *  with the day's sshd logins, whose partial index adds a row to each; 16.51 on the same code
 *  without them, the rest of the difference being the mix's rollups; 30.61 before issue 18's
 *  changes). */
const MAX_ROWS_WRITTEN_PER_LINE = 17.8;

test("D1 rows written per event and per log line stay under their ceilings (issue 18)", async (t) => {
  const log = meterLog();
  // The rollups catch up with every insert batch (ROLLUP_CATCH_UP_SECONDS = 0): the most a
  // quiet installation writes, and the same however fast the day is replayed.
  // The hourly cron the replay runs refreshes no network list (nothing leaves the machine).
  const bindings = { EDGESOC_D1_METER: "1", ROLLUP_CATCH_UP_SECONDS: "0", NETWORK_LIST_SOURCES: "{}" };
  const app = await start({ bindings, runtimeStdio: log.runtimeStdio });
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

    assert.ok(consumer.rollups.statements > 0, "the rollups' catch-ups are marked");
    const { event, line } = rowsWritten(r);
    const [perEvent, perLine] = [event.all_in, line.all_in];
    const parts = (x) => `${x.all_in.toFixed(2)} (ingest ${x.ingest.toFixed(2)}, rollups ${x.rollups.toFixed(2)}, ` +
      `detection ${x.detection.toFixed(2)}, purge ${x.purge.toFixed(2)})`;
    const shown = parts(event);
    t.diagnostic(`${r.events.count} events: ${shown} rows written per event; ${parts(line)} per log line (${r.lines.count})`);
    assert.ok(perEvent <= MAX_ROWS_WRITTEN_PER_EVENT,
      `D1 rows written per event ${shown} above the ceiling ${MAX_ROWS_WRITTEN_PER_EVENT} (target ${TARGET_ROWS_WRITTEN_PER_EVENT}): ` +
      "a new index, trigger or per-row write? Measure it with scripts/bench (bench/cost.mjs) first");
    assert.ok(perLine <= MAX_ROWS_WRITTEN_PER_LINE, `D1 rows written per log line ${parts(line)} above ${MAX_ROWS_WRITTEN_PER_LINE}`);
  } finally {
    await app.dispose();
  }
});
