// The fixture follows the dashboard contract (§3), and is what make-fixture.mjs generates.
// With BASE_URL and API_KEY set, the live Worker's /ui/mock-data is checked the same way.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { validateMockData } from "./contract.mjs";
import { fixture as generated, OPEN_ANOMALIES_NEEDED } from "./make-fixture.mjs";

const fixture = JSON.parse(readFileSync(new URL("./fixture.json", import.meta.url), "utf8"));

test("fixture.json follows the /ui/mock-data contract", () => {
  assert.deepEqual(validateMockData(fixture), []);
});

test("fixture.json is up to date with make-fixture.mjs", () => {
  assert.deepEqual(fixture, JSON.parse(JSON.stringify(generated)), "run: node tests/browser/make-fixture.mjs");
});

test("fixture.json holds the open anomalies the resolve and mark-safe tests act on", () => {
  const open = fixture.anomalies.filter((a) => a.status === "open");
  assert.ok(open.length >= OPEN_ANOMALIES_NEEDED, `${open.length} open anomalies`);
  assert.ok(open.length < fixture.anomalies.length, "and closed ones, shown without actions");
});

test("the live Worker's /ui/mock-data follows the contract", { skip: !process.env.BASE_URL && "BASE_URL not set" }, async () => {
  const base = process.env.BASE_URL.replace(/\/+$/, "");
  for (const hours of [1, 24, 168]) {
    const res = await fetch(`${base}/ui/mock-data?hours=${hours}`, { headers: { "X-API-Key": process.env.API_KEY ?? "" } });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(validateMockData(body), [], `hours=${hours}`);
  }
});
