// Every reference written in the repository points at something in the repository. It scans
// the tracked text files (`git ls-files`) and fails, printing `file:line` for each, on:
//   (a) a section citation `docs/<name>.md §N[.M…]` (and the `§…` that follow it in the same
//       citation, as in `docs/api.md §5.1, §9.9` or `§4–§6`) whose file or numbered heading
//       (`## 5.` / `### 5.1`) does not exist;
//   (b) a repository path (`crates/…`, `src/…`, `tests/…`, `scripts/…`, `migrations/…`,
//       `bench/…`, `dashboard/…`, `docs/…`, `openapi/…`, `fuzz/…`) that names no tracked file
//       or directory, from the repository root or from the citing file's own directory or a
//       parent of it (so a `src/…` path in dashboard/README.md names a file of dashboard/src/);
//   (c) any mention of the notes that used to live outside the repository (the old contract
//       and platform-notes file names, or a path into the directory that held them): docs/
//       holds them now;
//   (d) a Rust path `edgesoc_core::a::b` (anywhere) or `crate::a::b` (in .rs files) whose
//       modules do not resolve to files (`a/b.rs` or `a/b/mod.rs` under the crate's src/),
//       where the first segment that is not a module file must at least appear as a word in
//       the last module that is (an item, a re-export or an inline module).
//
// Not checked, on purpose:
// * paths under directories that are generated or gitignored, so they exist only after a
//   build or a run: build/, public/, target/, node_modules/, .wrangler/, .venv/, fuzz/corpus/,
//   fuzz/artifacts/, fuzz/target/, tests/artifacts/, bench/empty-worker/build/;
// * patterns rather than paths (`migrations/*.sql`, `fuzz/seeds/<target>/`, `tests/${dir}/`):
//   only the part before the first wildcard must exist;
// * data files: lockfiles, fixtures and fuzz seeds, bench results, binaries (files with a NUL);
//
//   node --test tests/security/
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;


/** Tracked files that are data, not prose or code. */
const DATA = [
  /(^|\/)package-lock\.json$/,
  /(^|\/)Cargo\.lock$/,
  /^tests\/fixtures\//,
  /^tests\/browser\/fixture\.json$/,
  /^fuzz\/seeds\//,
  /^bench\/results\//,
  /\.(svg|png|jpe?g|gif|ico|wasm|gz|mmdb|bin)$/,
];

/** Generated or gitignored locations: a path inside them cannot be checked from a checkout. */
const GENERATED = [
  /^build(\/|$)/,
  /^public(\/|$)/,
  /(^|\/)target(\/|$)/,
  /(^|\/)node_modules(\/|$)/,
  /^\.wrangler(\/|$)/,
  /^\.venv(\/|$)/,
  /^fuzz\/(corpus|artifacts|target)(\/|$)/,
  /^tests\/artifacts(\/|$)/,
  /^bench\/empty-worker\/build(\/|$)/,
];

const TOP = ["crates", "src", "tests", "scripts", "migrations", "bench", "dashboard", "docs", "openapi", "fuzz"];
/** A repository path: a top-level directory, then path characters (wildcards included). */
const PATH = new RegExp(`(?<![\\w./@$-])(?:${TOP.join("|")})/[\\w./*<>{}$…-]*`, "g");
/** Characters that make a mention a pattern rather than one path. */
const WILDCARD = /[*<>{}$…]/;
/** A section citation and the run of `§…` that continues it. */
const CITATION = /\bdocs\/([\w.-]+\.md)((?:\s*(?:,|;|–|-|and|or|\/)?\s*§\s*\d+(?:\.\d+)*)+)/g;
/** The old external notes, spelt so that this file does not mention them itself. */
const OLD = [
  new RegExp(["api", "contract"].join("-"), "i"),
  new RegExp(["dashboard", "contract"].join("-"), "i"),
  new RegExp(`${["workers", "rs"].join("-")}[- ]notes`, "i"),
  new RegExp(`\\b(?:api|dashboard) contract\\s*(?:§|section\\b)`, "i"),
  new RegExp(["shared", "docs"].join("/")),
  new RegExp(`\\.\\./${"shared"}/`),
];
/** A Rust path into one of the workspace's crates. */
const RUST_PATH = /(?<![\w$:])(edgesoc_core|crate)((?:::[A-Za-z_]\w*)+)/g;

const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
  .split("\0")
  .filter(Boolean);
const trackedSet = new Set(tracked);
const dirs = new Set();
for (const f of tracked) {
  for (let d = dirname(f); d !== "."; d = dirname(d)) dirs.add(d);
}

/** The scanned files and their lines. */
const files = tracked
  .filter((f) => !DATA.some((re) => re.test(f)) && existsSync(join(ROOT, f)))
  .map((f) => ({ path: f, text: readFileSync(join(ROOT, f), "utf8") }))
  .filter((f) => !f.text.includes("\0"))
  .map((f) => ({ ...f, lines: f.text.split("\n") }));

/** Whether `p` (relative to the root, no trailing slash) is a tracked file or directory. */
const exists = (p) => trackedSet.has(p) || dirs.has(p);

/** Every match of `re` in `file`, as `{line, match}`. */
function* scan(file, re) {
  for (const [i, line] of file.lines.entries()) {
    for (const m of line.matchAll(re)) yield { line: i + 1, m };
  }
}

/** Fails listing `problems` (`file:line: what`), one per line. */
function report(what, problems) {
  assert.equal(problems.length, 0, `${problems.length} ${what}:\n  ${problems.join("\n  ")}`);
}

/** Section numbers of the headings of docs/<name>.md (`## 5. …` → "5", `### 5.1 …` → "5.1"). */
const sectionsOf = new Map();
function sections(doc) {
  if (!sectionsOf.has(doc)) {
    const p = join(ROOT, "docs", doc);
    const found = existsSync(p)
      ? [...readFileSync(p, "utf8").matchAll(/^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/gm)].map((m) => m[1])
      : null;
    sectionsOf.set(doc, found && new Set(found));
  }
  return sectionsOf.get(doc);
}

test("every docs/<name>.md §N citation names an existing numbered section", () => {
  const problems = [];
  for (const file of files) {
    for (const { line, m } of scan(file, CITATION)) {
      const doc = m[1];
      const known = sections(doc);
      if (!known) {
        problems.push(`${file.path}:${line}: docs/${doc} does not exist`);
        continue;
      }
      for (const [, n] of m[2].matchAll(/§\s*(\d+(?:\.\d+)*)/g)) {
        if (!known.has(n)) problems.push(`${file.path}:${line}: docs/${doc} has no section §${n}`);
      }
    }
  }
  report("dangling section citations", problems);
});

test("every repository path mentioned in a tracked file exists", () => {
  const problems = [];
  for (const file of files) {
    for (const { line, m } of scan(file, PATH)) {
      // Trailing sentence punctuation is not part of the path.
      let p = m[0].replace(/[.,:;]+$/, "");
      if (WILDCARD.test(p)) p = p.slice(0, p.search(WILDCARD)).replace(/\/[^/]*$/, "");
      p = p.replace(/\/+$/, "");
      if (!p.includes("/") && !TOP.includes(p)) continue;
      if (GENERATED.some((re) => re.test(p))) continue;
      // From the root, or relative to the citing file's directory or one of its parents.
      const bases = [];
      for (let d = dirname(file.path); d !== "."; d = dirname(d)) bases.push(d);
      if (exists(p) || bases.some((b) => exists(normalize(join(b, p))))) continue;
      problems.push(`${file.path}:${line}: ${m[0]} does not exist`);
    }
  }
  report("dangling repository paths", problems);
});

test("nothing refers to the old notes outside the repository", () => {
  const problems = [];
  for (const file of files) {
    for (const [i, line] of file.lines.entries()) {
      const hit = OLD.map((re) => line.match(re)).find(Boolean);
      if (hit) problems.push(`${file.path}:${i + 1}: "${hit[0]}" (cite docs/api.md, docs/dashboard.md or docs/workers.md)`);
    }
  }
  report("references to notes outside the repository", problems);
});

/** The src/ directory of the crate a `crate::` path in `file` means (null: not a crate). */
function crateRoot(file) {
  for (const root of ["crates/core", "crates/bench", "bench/empty-worker", "fuzz"]) {
    if (file.startsWith(`${root}/`)) return `${root}/src`;
  }
  return file.startsWith("src/") ? "src" : null;
}

/** The module file of `segments` under `root`, or null. */
function moduleFile(root, segments) {
  if (segments.length === 0) {
    return ["lib.rs", "main.rs"].map((f) => `${root}/${f}`).find((f) => trackedSet.has(f)) ?? null;
  }
  const base = `${root}/${segments.join("/")}`;
  return [`${base}.rs`, `${base}/mod.rs`].find((f) => trackedSet.has(f)) ?? null;
}

const sourceOf = new Map(files.map((f) => [f.path, f.text]));

test("every edgesoc_core:: and crate:: path resolves to a module file", () => {
  const problems = [];
  for (const file of files) {
    for (const { line, m } of scan(file, RUST_PATH)) {
      const root = m[1] === "edgesoc_core" ? "crates/core/src" : file.path.endsWith(".rs") ? crateRoot(file.path) : null;
      if (!root) continue;
      const segments = m[2].split("::").filter(Boolean);
      let resolved = moduleFile(root, []);
      let depth = 0;
      while (depth < segments.length) {
        const next = moduleFile(root, segments.slice(0, depth + 1));
        if (!next) break;
        resolved = next;
        depth += 1;
      }
      if (depth === segments.length) continue;
      const item = segments[depth];
      const word = new RegExp(`\\b${item}\\b`);
      if (resolved && word.test(sourceOf.get(resolved) ?? "")) continue;
      problems.push(
        `${file.path}:${line}: ${m[0]}: no module file for ${segments.slice(0, depth + 1).join("::")}` +
          (resolved ? `, and ${resolved} never names ${item}` : ""),
      );
    }
  }
  report("unresolved Rust paths", problems);
});
