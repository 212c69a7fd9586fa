// Real log shippers from npm, unmodified except URL and credentials, against the Worker served
// on 127.0.0.1 (docs/dashboard.md §7.2, §7.6): OpenTelemetry's OTLP/HTTP log exporters (JSON and
// protobuf), winston-loki (snappy protobuf by default) and pino-loki (JSON). Each line must be
// stored once, classified, with its service and client address, and appear on the dashboard
// (`/ui/mock-data`) with their types and locations; OTLP's partial success counts records the
// Worker did not store.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { SeverityNumber } from "@opentelemetry/api";
import { LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { OTLPLogExporter as OtlpHttpJson } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as OtlpProto } from "@opentelemetry/exporter-logs-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import winston from "winston";
import LokiTransport from "winston-loki";
import pino from "pino";
import { start } from "./harness.mjs";

let app, key, org;
before(async () => {
  app = await start({ listen: true });
  key = await app.createKey({ org: "Shippers", plan: "pro" });
  org = (await app.db.prepare("SELECT id FROM orgs WHERE name = 'Shippers'").first()).id;
  // Two ranges in the IP tables (keys "4" + 8 hex digits), as scripts/import-ipdb stores them.
  await app.db.batch([
    app.db.prepare("INSERT INTO ip_location (id, country_code, city) VALUES (990101, 'DE', 'Berlin'), (990102, 'NL', 'Amsterdam')"),
    app.db.prepare("INSERT INTO ip_city (ip_start, ip_end, location_id) VALUES ('4cb007100', '4cb0071ff', 990101), ('4c6336400', '4c63364ff', 990102)"),
  ]);
});

const COUNTRY = { "203.0.113": "DE", "198.51.100": "NL" };
const countryOf = (ip) => COUNTRY[ip.split(".").slice(0, 3).join(".")] ?? null;

/** The dashboard's log items of `service` once `n` are in its window (which ends at the current
 *  second), and each item's type and country as the stored row has them. */
async function onDashboard(service, rows) {
  const items = await app.eventually(async () => {
    const res = await app.request(`/ui/mock-data?hours=1&service=${service}`, { key });
    return res.body.logs?.length >= rows.length && res.body.logs;
  }, { timeoutMs: 5000 });
  assert.ok(items, `${service}: not on the dashboard`);
  for (const row of rows) {
    const item = items.find((i) => i.sourceIp === row.source_ip);
    assert.ok(item, `${row.source_ip} on the dashboard`);
    assert.equal(item.type, row.type);
    assert.equal(item.geo, countryOf(row.source_ip) ?? undefined, `${row.source_ip}'s country`);
  }
}
after(() => app.dispose());

const rowsOf = async (service) =>
  (await app.db.prepare("SELECT * FROM logs WHERE org_id = ? AND service = ? ORDER BY id").bind(org, service).all()).results;

async function waitForRows(service, n) {
  const rows = await app.eventually(async () => {
    const found = await rowsOf(service);
    return found.length >= n && found;
  }, { timeoutMs: 15_000 });
  assert.equal(rows?.length, n, `${service}: ${JSON.stringify(rows)}`);
  return rows;
}

/** An OpenTelemetry logger exporting every record at once through `exporter`. */
function otelLogger(exporter, service) {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ "service.name": service, "host.name": "web-7" }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  return { provider, logger: provider.getLogger("auth") };
}

describe("OpenTelemetry OTLP/HTTP log exporters", () => {
  for (const [name, Exporter] of [["json", OtlpHttpJson], ["protobuf", OtlpProto]]) {
    test(`@opentelemetry/exporter-logs-otlp-${name === "json" ? "http" : "proto"}: records stored with service, host, user and client address`, async () => {
      const service = `otel-${name}`;
      const exporter = new Exporter({ url: `${app.url}/v1/logs`, headers: { Authorization: `Bearer ${key}` } });
      const { provider, logger } = otelLogger(exporter, service);
      logger.emit({
        severityNumber: SeverityNumber.WARN, severityText: "WARN",
        body: "Failed password for admin from 203.0.113.41 port 50122 ssh2",
        attributes: { "client.address": "203.0.113.41", "enduser.id": "admin" },
      });
      logger.emit({ severityNumber: SeverityNumber.INFO, body: { msg: "user login", user: "dana", ip: "198.51.100.23", status: 200 } });
      await provider.forceFlush();
      const rows = await waitForRows(service, 2);
      await provider.shutdown();
      assert.equal(rows[0].type, "login_failure");
      assert.equal(rows[0].source_ip, "203.0.113.41");
      assert.equal(rows[0].user, "admin");
      assert.equal(rows[0].hostname, "web-7");
      assert.equal(rows[0].level, "warning");
      assert.equal(rows[1].source_ip, "198.51.100.23", "a structured body is read as a JSON line");
      assert.equal(rows[1].user, "dana");
      assert.equal(rows[1].type, "login_success");
      await onDashboard(service, rows);
    });
  }

  test("a record outside the time bounds is counted in partialSuccess; an export that stores nothing is 400", async () => {
    const record = (ms, body) => ({ timeUnixNano: `${BigInt(ms) * 1_000_000n}`, body: { stringValue: body } });
    const post = (records, headers = {}) => fetch(`${app.url}/v1/logs`, {
      method: "POST",
      headers: { "X-API-Key": key, "Content-Type": "application/json", ...headers },
      body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "otel-bounds" } }] },
        scopeLogs: [{ logRecords: records }] }] }),
    });
    const now = Date.now();
    const res = await post([record(now, "kept"), record(now - 400 * 86_400_000, "a year old")]);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    const body = await res.json();
    assert.equal(body.partialSuccess.rejectedLogRecords, "1");
    assert.match(body.partialSuccess.errorMessage, /1 of 2 entries were not stored: 1 older than the retention cutoff/);
    assert.deepEqual((await rowsOf("otel-bounds")).map((r) => r.message), ["kept"]);

    const none = await post([record(now - 400 * 86_400_000, "old")]);
    assert.equal(none.status, 400);
    assert.equal((await none.json()).error.details[0].field, "resourceLogs");
    const empty = await post([]);
    assert.equal(empty.status, 400);
    const zipped = await fetch(`${app.url}/v1/logs`, {
      method: "POST", headers: { "X-API-Key": key, "Content-Type": "application/json", "Content-Encoding": "gzip" },
      body: gzipSync(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [record(now, "gzipped")] }] }] })),
    });
    assert.equal(zipped.status, 200);
    assert.deepEqual(await zipped.json(), {});
    assert.equal((await fetch(`${app.url}/v1/logs`, { method: "POST", headers: { "X-API-Key": key, "Content-Type": "text/plain" }, body: "x" })).status, 415);
    assert.equal((await fetch(`${app.url}/v1/logs`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).status, 401);
  });
});

describe("Loki shippers", () => {
  test("winston-loki's default (snappy protobuf) with basic auth", async () => {
    const service = `winston-${randomUUID().slice(0, 8)}`;
    const logger = winston.createLogger({
      transports: [new LokiTransport({
        host: app.url, basicAuth: `edgesoc:${key}`, labels: { service }, batching: false,
        onConnectionError: (e) => { throw e; },
      })],
    });
    logger.warn("Failed password for invalid user oracle from 198.51.100.9 port 50122 ssh2");
    logger.info("session started for user=erin ip=203.0.113.52");
    const rows = await waitForRows(service, 2);
    logger.close();
    assert.equal(rows[0].type, "login_failure");
    assert.equal(rows[0].source_ip, "198.51.100.9");
    assert.equal(rows[0].user, "oracle", "sshd's invalid user");
    assert.equal(rows[1].source_ip, "203.0.113.52");
    await onDashboard(service, rows);
  });

  test("pino-loki (JSON push) with basic auth", async () => {
    const service = `pino-${randomUUID().slice(0, 8)}`;
    const transport = pino.transport({
      target: "pino-loki",
      options: { host: app.url, basicAuth: { username: "edgesoc", password: key }, labels: { service }, batching: false },
    });
    const logger = pino(transport);
    logger.error({ user: "mallory", ip: "192.0.2.44", status: 401 }, "login failed: wrong password");
    const rows = await waitForRows(service, 1);
    transport.end();
    assert.equal(rows[0].type, "login_failure");
    assert.equal(rows[0].user, "mallory");
    assert.equal(rows[0].source_ip, "192.0.2.44");
    assert.equal(rows[0].status_code, 401);
    await onDashboard(service, rows);
  });
});
