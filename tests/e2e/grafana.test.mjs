// Grafana's Loki data source against edgesoc (docs/dashboard.md §7.7): the exact requests its
// backend sends (pkg/tsdb/loki in Grafana: the health check's instant `vector(1)+vector(1)`,
// query_range with direction, limit, start and end in nanoseconds and step in ms, the logs
// volume query, label names and values, series, buildinfo), authenticated as Grafana is
// configured for Loki: HTTP Basic with the key as password.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";

let app, basic;
const MIN = 60_000;
const t0 = Date.now() - 30 * MIN;
const ns = (ms) => `${BigInt(Math.trunc(ms)) * 1_000_000n}`;

before(async () => {
  app = await start();
  const key = await app.createKey({ org: "GrafanaOrg", plan: "pro" });
  basic = "Basic " + Buffer.from(`grafana:${key}`).toString("base64");
  const line = (i) => (i % 3 === 2
    ? JSON.stringify({ level: "error", msg: "upstream timeout", status: 504 })
    : `sshd[${900 + i}]: Failed password for ${i % 2 ? "root" : "admin"} from 203.0.113.${10 + i} port 22 ssh2`);
  const streams = [
    { stream: { service: "bastion", namespace: "infra" }, values: Array.from({ length: 6 }, (_, i) => [ns(t0 + i * MIN), line(i * 3)]) },
    { stream: { service: "api", namespace: "prod" }, values: Array.from({ length: 3 }, (_, i) => [ns(t0 + i * MIN), line(i * 3 + 2)]) },
  ];
  const res = await app.request("/loki/api/v1/push", { method: "POST", headers: { Authorization: basic, "Content-Type": "application/json" }, body: { streams } });
  assert.equal(res.status, 204, JSON.stringify(res.body));
});
after(() => app.dispose());

const get = (path, params = {}) =>
  app.request(`${path}?${new URLSearchParams(params)}`, { headers: { Authorization: basic } });
const range = () => ({ start: ns(t0 - MIN), end: ns(Date.now()) });

test("Save & test: the health check's instant vector(1)+vector(1) answers 2", async () => {
  const res = await get("/loki/api/v1/query", { direction: "backward", query: "vector(1)+vector(1)", time: "4000000000" });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.data, { resultType: "vector", result: [{ metric: {}, value: [4000000000, "2"] }] });
  assert.equal((await app.request("/ready", { headers: { Authorization: basic } })).body, "ready\n");
  const info = await get("/loki/api/v1/status/buildinfo");
  assert.match(info.body.version, /^2\.\d+\.\d+$/);
});

test("Explore: label names and values, then a log query with a line filter as streams", async () => {
  const labels = await get("/loki/api/v1/labels", range());
  assert.ok(["service", "namespace", "type", "level"].every((l) => labels.body.data.includes(l)), JSON.stringify(labels.body));
  const services = await get("/loki/api/v1/label/service/values", range());
  assert.deepEqual(services.body.data, ["api", "bastion"]);
  const types = await get("/loki/api/v1/label/type/values", { ...range(), query: '{service="bastion"}' });
  assert.deepEqual(types.body.data, ["login_failure"]);

  const res = await get("/loki/api/v1/query_range", {
    direction: "backward", limit: "1000", query: '{service="bastion"} |= "root"', ...range(), step: "2000ms",
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.data.resultType, "streams");
  const [stream] = res.body.data.result;
  assert.deepEqual(stream.stream, { service: "bastion", namespace: "infra", type: "login_failure", level: "info" });
  assert.equal(stream.values.length, 3, "the three root failures");
  assert.ok(stream.values.every(([t, l]) => /^\d{19}$/.test(t) && l.includes("for root")));
  assert.ok(BigInt(stream.values[0][0]) > BigInt(stream.values[2][0]), "newest first");
  const series = await get("/loki/api/v1/series", { "match[]": '{level="error"}', ...range() });
  assert.deepEqual(series.body.data, [{ service: "api", namespace: "prod", type: "network_event", level: "error" }]);
});

test("a panel's metric query and Explore's logs volume return matrices counted per step", async () => {
  const end = t0 + 10 * MIN;
  const failures = await get("/loki/api/v1/query_range", {
    direction: "backward", query: 'sum by (service) (count_over_time({type="login_failure"}[15m]))',
    start: ns(end), end: ns(end), step: "60000ms",
  });
  assert.equal(failures.status, 200, JSON.stringify(failures.body));
  assert.deepEqual(failures.body.data.result, [{ metric: { service: "bastion" }, values: [[end / 1000, "6"]] }]);

  const volume = await get("/loki/api/v1/query_range", {
    direction: "backward", query: 'sum by (level, detected_level) (count_over_time({namespace=~"infra|prod"} | drop __error__[1m]))',
    start: ns(t0), end: ns(t0 + 6 * MIN), step: "60000ms",
  });
  assert.equal(volume.status, 200, JSON.stringify(volume.body));
  const byLevel = Object.fromEntries(volume.body.data.result.map((r) => [r.metric.level, r.values.reduce((n, [, v]) => n + Number(v), 0)]));
  assert.deepEqual(byLevel, { info: 6, error: 3 });
});

test("what edgesoc does not answer is a 400 whose message Grafana shows", async () => {
  for (const query of ['{service="bastion"} | json', 'avg_over_time({service="bastion"}[1m])', "{}"]) {
    const res = await get("/loki/api/v1/query_range", { query, ...range() });
    assert.equal(res.status, 400, query);
    assert.equal(typeof res.body.message, "string", "Grafana reads `message`");
    assert.match(res.body.message, /query/);
  }
  const noKey = await app.request("/loki/api/v1/labels");
  assert.equal(noKey.status, 401);
});
