// Key administration against D1 through wrangler (local by default, --remote for production).
//   node scripts/lib/admin.mjs create --org NAME --plan free|pro|enterprise|custom
//        [--scope ingest,read,respond,admin] [--name TEXT]
//        [--rate-limit N] [--quota N] [--retention-days N] [--shard DB_N] [--remote]
//   node scripts/lib/admin.mjs revoke KEY [--remote]
// --persist-to DIR uses the local D1 state in DIR instead of .wrangler/state (wrangler's own
// option; tests/security/keys.test.mjs runs scripts/create-key against a throwaway one).
// The new key is printed alone on the last line of stdout; wrangler's chatter goes to stderr.
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { createKeyStatements, newKey, orgShardStatement, revokeKeyStatement } from "./keys.mjs";

const root = new URL("../..", import.meta.url).pathname;

function d1(sql, remote, persistTo) {
  const args = ["wrangler", "d1", "execute", "DB", remote ? "--remote" : "--local", "--command", sql, "--json"];
  if (persistTo) {
    if (remote) throw new Error("--persist-to is for the local database only");
    args.push("--persist-to", persistTo);
  }
  const out = execFileSync("npx", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out);
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
    },
  });
  if (cmd === "create") {
    const key = newKey();
    const stmts = createKeyStatements({
      org: values.org, plan: values.plan, key,
      rateLimit: values["rate-limit"], quota: values.quota, retentionDays: values["retention-days"],
      scopes: values.scope?.flatMap((s) => s.split(",")), name: values.name, shard: values.shard,
    });
    if (values.shard) {
      // Placement is for new organisations: an existing one moves only with its data.
      const found = d1(orgShardStatement(values.org), values.remote, values["persist-to"])?.[0]?.results?.[0];
      if (found && found.shard !== values.shard) {
        throw new Error(`organisation "${values.org}" is on ${found.shard}, not ${values.shard}`);
      }
    }
    d1(stmts.join("; "), values.remote, values["persist-to"]);
    const scopes = values.scope ? values.scope.join(",") : "every scope (ingest, read, respond, admin)";
    console.error(`created key for organisation "${values.org}" on plan ${values.plan} with ${scopes}`);
    console.log(key);
  } else if (cmd === "revoke") {
    const key = positionals[0];
    if (!key) throw new Error("usage: revoke KEY");
    const res = d1(revokeKeyStatement(key), values.remote, values["persist-to"]);
    if ((res?.[0]?.results ?? []).length === 0) throw new Error("no active key matches");
    console.error("key revoked");
  } else if (cmd === "check") {
    // Exit 0 when the key is active (used by scripts/dev to reuse its demo key).
    const key = positionals[0];
    const { hashKey } = await import("./keys.mjs");
    const rows = d1(`SELECT count(*) AS n FROM api_keys WHERE key_hash = '${hashKey(key)}' AND revoked_at IS NULL`, values.remote, values["persist-to"]);
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
