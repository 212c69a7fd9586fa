// Keeps SECURITY.md true as the code changes. It parses every test citation, written
//   `path › "js test or describe title"`   `path › module::rust_test_fn`   `path › test_python_fn`
// and checks that the file exists, that the named test is really in it, and that scripts/test
// runs that suite. It also checks that every claim (`- **AREA-n**`, except the GAP-n entries)
// cites at least one test, that claim ids are unique, and that every id referred to is defined.
//
//   node --test tests/security/
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, normalize } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;
const DOC = readFileSync(join(ROOT, "SECURITY.md"), "utf8");
const SCRIPTS_TEST = readFileSync(join(ROOT, "scripts/test"), "utf8");

const CITATION = /`([A-Za-z0-9_./-]+\.(?:mjs|js|rs|py)) › ([^`\n]+)`/g;
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Every citation in `text`, in order. */
function citations(text) {
  return [...text.matchAll(CITATION)].map((m) => ({ path: m[1], name: m[2].trim(), raw: m[0] }));
}

/** The claim list items: `- **ID** text…` up to the next item, heading or blank line. */
function claims(text) {
  const out = [];
  let cur = null;
  for (const line of text.split("\n")) {
    const m = line.match(/^- \*\*([A-Z]+-\d+)\b/);
    if (m) {
      cur = { id: m[1], text: line };
      out.push(cur);
    } else if (cur && line.trim() !== "" && !/^(#|- |\* |\| )/.test(line)) {
      cur.text += `\n${line}`;
    } else {
      cur = null;
    }
  }
  return out;
}

/** Which scripts/test step runs a test file (null: none known). */
function runnerFor(path) {
  const rules = [
    [/^tests\/(e2e|api|browser|smoke|ipdb)\/[^/]+\.mjs$/, (m) => `tests/${m[1]}/`],
    [/^tests\/sdk\/[^/]+\.py$/, () => "tests/sdk/run.sh"],
    [/^crates\/core\/(src|tests)\/.+\.rs$/, () => "cargo test -p edgesoc-core"],
  ];
  for (const [re, step] of rules) {
    const m = path.match(re);
    if (m) return step(m);
  }
  return null;
}

/** Throws unless `name` is a test in `path` (whose text is `src`). */
function assertTestExists(path, name, src) {
  if (/\.(mjs|js)$/.test(path)) {
    const t = name.match(/^"([^"]+)"$/);
    assert.ok(t, `a JS citation names its test in double quotes: ${name}`);
    const title = escapeRe(t[1]);
    const call = new RegExp(`\\b(?:test|describe|it)\\(\\s*(["'\`])${title}\\1`);
    assert.match(src, call, `no test() or describe() titled ${name} in ${path}`);
  } else if (path.endsWith(".rs")) {
    const segments = name.split("::");
    const fn = segments.pop();
    assert.match(fn, /^[a-z_][a-z0-9_]*$/, `not a Rust function name: ${fn}`);
    let from = 0;
    for (const mod of segments) {
      const at = src.slice(from).search(new RegExp(`\\bmod ${escapeRe(mod)}\\s*\\{`));
      assert.ok(at >= 0, `no \`mod ${mod} {\` in ${path}`);
      from += at;
    }
    const def = new RegExp(`#\\[(?:test|check)\\][^\\n]*\\n(?:\\s*#\\[[^\\n]*\\n)*\\s*(?:pub\\s+)?(?:async\\s+)?fn ${fn}\\s*\\(`);
    assert.match(src.slice(from), def, `no #[test] fn ${fn} ${segments.length ? `inside ${segments.join("::")} ` : ""}in ${path}`);
  } else if (path.endsWith(".py")) {
    assert.match(name, /^test_\w+$/, `pytest only collects test_* functions: ${name}`);
    assert.match(src, new RegExp(`^def ${name}\\(`, "m"), `no def ${name}( in ${path}`);
  } else {
    assert.fail(`unsupported test file type: ${path}`);
  }
}

const cited = citations(DOC);
const claimList = claims(DOC);

describe("SECURITY.md", () => {
  test("has the threat model's sections and a plausible number of claims and citations", (t) => {
    for (const heading of [
      "Scope and assets", "Trust boundaries", "Attacker models", "Authentication", "Key storage and generation",
      "Admin paths, scopes and the key API", "Tenant isolation", "CORS", "Input limits", "Log injection into the dashboard",
      "Secrets and wrangler.toml", "Known gaps and weaknesses", "Reporting a vulnerability",
    ]) {
      assert.match(DOC, new RegExp(`^## \\d+\\. ${escapeRe(heading)}$`, "m"), heading);
    }
    const proven = claimList.filter((c) => !c.id.startsWith("GAP-"));
    assert.ok(proven.length >= 40, `only ${proven.length} claims parsed`);
    assert.ok(cited.length >= proven.length, `only ${cited.length} citations parsed`);
    const distinct = new Set(cited.map((c) => `${c.path} › ${c.name}`));
    t.diagnostic(`${proven.length} claims, ${claimList.length - proven.length} gaps, ${cited.length} citations of ${distinct.size} distinct tests`);
  });

  test("every code span with › is a well-formed citation", () => {
    const spans = [...DOC.matchAll(/`[^`\n]*›[^`\n]*`/g)].map((m) => m[0]);
    const parsed = new Set(cited.map((c) => c.raw));
    for (const s of spans) assert.ok(parsed.has(s), `malformed citation ${s}: use \`path › "title"\`, \`path › mod::fn\` or \`path › test_fn\``);
  });

  test("claim ids are unique and every claim outside Known gaps cites a test", () => {
    const seen = new Set();
    for (const c of claimList) {
      assert.ok(!seen.has(c.id), `duplicate claim id ${c.id}`);
      seen.add(c.id);
      if (c.id.startsWith("GAP-")) continue;
      assert.ok(citations(c.text).length > 0, `${c.id} cites no test: prove it or move it to Known gaps`);
      assert.match(c.text, /Proof: `/, `${c.id}: citations follow "Proof:"`);
    }
  });

  test("every claim id referred to is defined", () => {
    const defined = new Set(claimList.map((c) => c.id));
    const prefixes = new Set([...defined].map((id) => id.split("-")[0]));
    for (const m of DOC.matchAll(/\b([A-Z]+)-(\d+)\b/g)) {
      if (prefixes.has(m[1])) assert.ok(defined.has(m[0]), `${m[0]} is referred to but not defined`);
    }
  });

  describe("every cited test exists and is run by scripts/test", () => {
    const byFile = new Map();
    for (const c of cited) byFile.set(c.path, [...(byFile.get(c.path) ?? []), c]);
    for (const [path, list] of byFile) {
      test(path, () => {
        assert.equal(normalize(path), path, `not a normalised repository path: ${path}`);
        assert.ok(!path.startsWith("..") && !path.startsWith("/"), path);
        const file = join(ROOT, path);
        assert.ok(existsSync(file), `${path} does not exist`);
        const src = readFileSync(file, "utf8");
        for (const c of list) assertTestExists(path, c.name, src);
        // This file runs next to the tests/security/ suites, so they are run whenever it is.
        if (!path.startsWith("tests/security/")) {
          const step = runnerFor(path);
          assert.ok(step, `${path}: no scripts/test step is known to run it`);
          assert.ok(SCRIPTS_TEST.includes(step), `${path}: scripts/test has no \`${step}\` step`);
        }
      });
    }
  });
});
