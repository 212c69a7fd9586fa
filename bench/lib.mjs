// Shared benchmark helpers: an isolated Worker instance in workerd (Miniflare) with its own
// on-disk D1 so large datasets need not fit in memory, realistic seeding, and percentiles.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { start } from "../tests/e2e/harness.mjs";
import { orgIdFor } from "../scripts/lib/keys.mjs";
import { rebuildRollups } from "../scripts/lib/rollups.mjs";

export const EVENT_NAMES = [
  "auth.login_success", "auth.login_failed", "auth.logout", "auth.password_reset", "auth.mfa_enabled",
  "auth.token_refreshed", "authz.access_denied", "authz.permission_granted", "admin.user_created",
  "admin.settings_changed", "data.export", "security.rate_limit_exceeded", "billing.invoice_paid",
];
const SEVERITY = { "auth.login_failed": "medium", "auth.login_success": "low", "authz.access_denied": "critical" };

/** A fresh instance with persistent (on-disk) D1 in a temp dir (`app.dir`), removed by
 *  `dispose()`. `runtimeStdio` as for start(). */
export async function instance(bindings = {}, { listen = false, runtimeStdio } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "edgesoc-bench-"));
  const app = await start({ bindings, persist: dir, listen, runtimeStdio, shards: [] });
  app.dir = dir;
  const dispose = app.dispose.bind(app);
  app.dispose = async () => {
    await dispose();
    rmSync(dir, { recursive: true, force: true });
  };
  return app;
}

/** Inserts `n` events for `org` spread over the last `days` days, 2,000 rows per statement, then
 *  recomputes the organisation's rollups (the `event_counts` that `GET /events` totals read). */
export async function seedEvents(app, org, n, { days = 28, actors = 5000, ips = 2000, onProgress } = {}) {
  const now = Date.now();
  const chunk = 2000;
  for (let done = 0; done < n; done += chunk) {
    const rows = [];
    for (let i = done; i < Math.min(n, done + chunk); i++) {
      const name = EVENT_NAMES[i % EVENT_NAMES.length];
      rows.push({
        id: randomUUID(), org_id: orgIdFor(org), event_name: name, category: name.split(".")[0],
        severity: SEVERITY[name] ?? "info", actor_id: `user-${i % actors}`,
        user_ip: `198.51.${(i % ips) >> 8}.${(i % ips) & 255}`,
        created_at: now - Math.floor(((i * 7919) % n) / n * days * 86_400_000),
      });
    }
    await app.db.prepare(
      `INSERT INTO events (id, org_id, event_name, category, severity, instant_alert, actor_id, user_ip, metadata, created_at)
       SELECT json_extract(value,'$.id'), json_extract(value,'$.org_id'), json_extract(value,'$.event_name'),
              json_extract(value,'$.category'), json_extract(value,'$.severity'), 0, json_extract(value,'$.actor_id'),
              json_extract(value,'$.user_ip'), '{}', json_extract(value,'$.created_at') FROM json_each(?)`)
      .bind(JSON.stringify(rows)).run();
    if ((done + chunk) % 100_000 === 0 || done + chunk >= n) onProgress?.(Math.min(n, done + chunk));
  }
  await rebuildRollups(app.db, orgIdFor(org));
}

/** Times `count` sequential calls of `fn`; returns percentiles in ms. */
export async function timeIt(count, fn) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

export function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export const fmt = (ms) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;

/** The workerd processes running now (each Miniflare instance runs its own), by pid. */
export const workerdPids = () => new Set(readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((p) => {
  try { return readFileSync(`/proc/${p}/comm`, "utf8").startsWith("workerd"); } catch { return false; }
}));

/** The CPU time (user + system, ms) the processes `pids` have used, from /proc. */
export const cpuMs = (pids) => [...pids].reduce((sum, p) => {
  try {
    const f = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
    return sum + (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 10 ms ticks
  } catch { return sum; }
}, 0);
