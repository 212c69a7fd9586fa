// Key administration against D1 through wrangler (local by default, --remote for production).
//   node scripts/lib/admin.mjs create --org NAME --plan free|pro|enterprise|custom
//        [--scope ingest,read,respond,admin] [--name TEXT]
//        [--rate-limit N] [--quota N] [--retention-days N] [--shard DB_N | --ceiling-gb N]
//        [--remote] [--config FILE]
//   node scripts/lib/admin.mjs revoke KEY [--remote] [--config FILE]
// --persist-to DIR uses the local D1 state in DIR instead of .wrangler/state (wrangler's own
// option; tests/security/keys.test.mjs runs scripts/create-key against a throwaway one).
// --config FILE is wrangler's own option too: the wrangler config to read (default: wrangler.toml).
// A new organisation without --shard is placed by scripts/lib/placement.mjs.
// The new key is printed alone on the last line of stdout; wrangler's chatter goes to stderr.
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { createKeyStatements, newKey, orgShardStatement, revokeKeyStatement } from "./keys.mjs";
import { DEFAULT_CEILING_GB, GB, choosePlacement, describeSizes, formatBytes, localSizes, readShards, remoteSize } from "./placement.mjs";

const root = new URL("../..", import.meta.url).pathname;

/** `npx wrangler ARGS… [--config FILE]`, its stdout; wrangler's stderr goes to ours. */
function wrangler(args, config) {
  if (config) args = [...args, "--config", config];
  return execFileSync("npx", ["wrangler", ...args], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

function d1(sql, { remote, "persist-to": persistTo, config }) {
  const args = ["d1", "execute", "DB", remote ? "--remote" : "--local", "--command", sql, "--json"];
  if (persistTo) {
    if (remote) throw new Error("--persist-to is for the local database only");
    args.push("--persist-to", persistTo);
  }
  return JSON.parse(wrangler(args, config));
}

/**
 * The shard for a new organisation: the configured one with the most room below the ceiling,
 * measured remotely with `wrangler d1 info` or locally through Miniflare; throws the refusal.
 */
async function place(values, ceilingGb) {
  const { shards, stateDir } = await readShards(values.config);
  const sizes = values.remote
    ? shards.map((s) => ({ shard: s.binding, bytes: remoteSize(JSON.parse(wrangler(["d1", "info", s.name, "--json"], values.config))) }))
    : await localSizes(shards, stateDir(values["persist-to"]));
  const choice = choosePlacement(sizes, ceilingGb * GB);
  if (!choice.shard) throw new Error(choice.refusal);
  console.error(
    `placing "${values.org}" on ${choice.shard}, the shard with the most room below the ` +
      `${formatBytes(ceilingGb * GB)} ceiling (${describeSizes(sizes)})`,
  );
  return choice.shard;
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      org: { type: "string" },
      plan: { type: "string", default: "pro" },
      "rate-limit": { type: "string" },
      quota: { type: "string" },
      "retention-days": { type: "string" },
      remote: { type: "boolean", default: false },
      "key-file": { type: "string" },
      "persist-to": { type: "string" },
      scope: { type: "string", multiple: true },
      name: { type: "string" },
      shard: { type: "string" },
      "ceiling-gb": { type: "string" },
      config: { type: "string" },
    },
  });
  if (cmd === "create") {
    if (values.shard && values["ceiling-gb"] !== undefined) throw new Error("--ceiling-gb is for placement without --shard");
    const ceilingGb = Number(values["ceiling-gb"] ?? DEFAULT_CEILING_GB);
    if (!(Number.isFinite(ceilingGb) && ceilingGb > 0)) throw new Error("--ceiling-gb must be a positive number");
    const key = newKey();
    const statements = (shard) => createKeyStatements({
      org: values.org, plan: values.plan, key,
      rateLimit: values["rate-limit"], quota: values.quota, retentionDays: values["retention-days"],
      scopes: values.scope?.flatMap((s) => s.split(",")), name: values.name, shard,
    });
    statements(values.shard); // refuses bad input before any wrangler call
    // Placement is for new organisations: an existing one keeps its shard, and moves only with its data.
    const found = d1(orgShardStatement(values.org), values)?.[0]?.results?.[0];
    let shard = values.shard;
    if (found) {
      if (values.shard && found.shard !== values.shard) {
        throw new Error(`organisation "${values.org}" is on ${found.shard}, not ${values.shard}`);
      }
      console.error(`organisation "${values.org}" exists on ${found.shard} and stays there`);
    } else if (!shard) {
      shard = await place(values, ceilingGb);
    } else if (!(await readShards(values.config)).shards.some((s) => s.binding === shard)) {
      // An organisation on a database the Worker does not serve would have its events refused.
      throw new Error(`${shard} is not DB or one of D1_SHARDS in the wrangler config`);
    }
    d1(statements(shard).join("; "), values);
    const scopes = values.scope ? values.scope.join(",") : "every scope (ingest, read, respond, admin)";
    console.error(`created key for organisation "${values.org}" on plan ${values.plan} with ${scopes}`);
    console.log(key);
  } else if (cmd === "revoke") {
    const key = positionals[0];
    if (!key) throw new Error("usage: revoke KEY");
    const res = d1(revokeKeyStatement(key), values);
    if ((res?.[0]?.results ?? []).length === 0) throw new Error("no active key matches");
    console.error("key revoked");
  } else if (cmd === "check") {
    // Exit 0 when the key is active (used by scripts/dev to reuse its demo key).
    const key = positionals[0];
    const { hashKey } = await import("./keys.mjs");
    const rows = d1(`SELECT count(*) AS n FROM api_keys WHERE key_hash = '${hashKey(key)}' AND revoked_at IS NULL`, values);
    process.exit(rows?.[0]?.results?.[0]?.n === 1 ? 0 : 1);
  } else {
    throw new Error(`unknown command ${cmd}; use create, revoke or check`);
  }
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  console.error(`error: ${e.message}`);
  process.exit(2);
}
