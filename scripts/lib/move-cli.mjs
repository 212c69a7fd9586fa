// scripts/move-org: the D1 bindings from wrangler.toml through wrangler's platform proxy (the
// local state scripts/dev uses, another with --persist-to, or production with --remote), then
// moveOrg or abortMove (./move.mjs).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getPlatformProxy, unstable_readConfig } from "wrangler";
import { SHARD } from "./keys.mjs";
import { abortMove, moveOrg } from "./move.mjs";
import { readShards } from "./placement.mjs";

const root = new URL("../..", import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    org: { type: "string" },
    to: { type: "string" },
    abort: { type: "boolean", default: false },
    settle: { type: "string" },
    chunk: { type: "string", default: "200" },
    remote: { type: "boolean", default: false },
    "persist-to": { type: "string" },
    config: { type: "string", default: join(root, "wrangler.toml") },
  },
});

try {
  if (!values.org) throw new Error("--org NAME (or its id) is required");
  if (!values.abort && !SHARD.test(values.to ?? "")) throw new Error("--to must name a D1 binding (DB or DB_…)");
  if (values.remote && values["persist-to"]) throw new Error("--persist-to is for local databases only");
  const config = unstable_readConfig({ config: values.config });
  const { shards } = await readShards(values.config);
  if (!values.abort && !shards.some((s) => s.binding === values.to)) {
    // The Worker would refuse an organisation registered on a database it does not serve.
    throw new Error(`${values.to} is not DB or one of D1_SHARDS in ${values.config}`);
  }
  const cacheSeconds = Number(config.vars?.TENANT_CACHE_SECONDS ?? 10);
  const settle = values.settle !== undefined ? Number(values.settle) : Math.min(cacheSeconds, 300) + 20;
  const chunk = Number(values.chunk);
  if (!(settle >= 0) || !(Number.isInteger(chunk) && chunk > 0 && chunk <= 1000)) throw new Error("--settle must be ≥ 0 and --chunk 1 to 1000");
  const proxy = await getPlatformProxy({
    configPath: values.remote ? remoteConfig(config) : values.config,
    persist: values["persist-to"] ? { path: values["persist-to"] } : true,
    remoteBindings: values.remote,
  });
  try {
    const dbs = Object.fromEntries((config.d1_databases ?? []).map((d) => [d.binding, proxy.env[d.binding]]));
    const found = await dbs.DB.prepare("SELECT id FROM orgs WHERE name = ? OR id = ?").bind(values.org, values.org).first();
    if (!found) throw new Error(`no organisation named ${values.org}`);
    const org = found.id;
    if (values.abort) {
      await abortMove({ dbs, org });
      console.error(`${values.org}: the move was undone; the organisation stays where it was`);
    } else {
      await moveOrg({ dbs, org, to: values.to, settleMs: settle * 1000, chunk, log: (l) => console.error(l) });
    }
  } finally {
    await proxy.dispose();
  }
} catch (e) {
  console.error(`error: ${e.message}`);
  process.exit(2);
}

/** A copy of the configuration whose D1 bindings reach production (wrangler's remote bindings). */
function remoteConfig(config) {
  const dir = mkdtempSync(join(tmpdir(), "edgesoc-move-"));
  const path = join(dir, "wrangler.json");
  const d1 = (config.d1_databases ?? []).map((d) => ({ ...d, remote: true }));
  writeFileSync(path, JSON.stringify({ name: config.name, compatibility_date: config.compatibility_date, d1_databases: d1 }));
  return path;
}
