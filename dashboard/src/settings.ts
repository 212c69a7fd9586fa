// The "Detection settings" card (docs/api.md §12.3): the brute-force thresholds and windows, the
// impossible-travel speed and distance floor and the country blocklist, each with its documented
// default and range beside it. "Save" sends a JSON merge patch of what changed, with a reason;
// "Reset" sends `null` for one setting. The API's range errors show next to the fields, and the
// card says who changed the settings last, when and why. Free plans see a Pro note.
import { api } from "./api";
import { clearErrors, countryLabel, fieldError, message, planRestricted, setFieldError, showErrors } from "./controls";
import { byId, h } from "./dom";
import { fmtDateTime, fmtNum } from "./format";
import type { DetectionSettings, SettingsValues } from "./types";

type Group = "brute_force_ip" | "brute_force_account" | "travel" | "agents";

interface Row {
  group: Group;
  name: string;
  label: string;
  unit: string;
  min: number;
  max: number;
  input: HTMLInputElement;
  def: HTMLElement;
  reset: HTMLButtonElement;
}

const SPEC: [Group, string, string, string, number, number][] = [
  ["brute_force_ip", "threshold", "Brute force per IP: failed logins", "logins", 2, 1000],
  ["brute_force_ip", "window_minutes", "Brute force per IP: window", "min", 1, 1440],
  ["brute_force_account", "threshold", "Brute force per account: failed logins", "logins", 2, 1000],
  ["brute_force_account", "window_minutes", "Brute force per account: window", "min", 1, 1440],
  ["travel", "min_speed_kmh", "Impossible travel: minimum speed", "km/h", 100, 2000],
  ["travel", "min_distance_km", "Impossible travel: minimum distance", "km", 50, 5000],
  ["agents", "stale_alert_minutes", "Silent agent: alert after (0 = never)", "min", 0, 1440],
];

const note = byId("set-note");
const meta = byId("settings-meta");
const changed = byId("set-changed");

const rows: Row[] = SPEC.map(([group, name, label, unit, min, max]) => ({
  group, name, label, unit, min, max,
  input: h("input", { type: "number", id: `set-${group}-${name}`, name: `${group}.${name}`, min, max, step: "any", "aria-label": label }),
  def: h("td", { class: "num muted" }),
  reset: h("button", { type: "button", class: "btn small ghost set-reset", "data-field": `${group}.${name}` }, "Reset"),
}));
const blocklist = h("input", { id: "set-blocklist", name: "country_blocklist", autocomplete: "off", spellcheck: "false",
  placeholder: "ISO codes, e.g. KP IR", "aria-label": "Country blocklist" });
const blockNames = h("span", { class: "hint", id: "set-blocklist-names" });
const blockDefault = h("td", { class: "num muted" });
const blockReset = h("button", { type: "button", class: "btn small ghost set-reset", "data-field": "country_blocklist" }, "Reset");
const reason = h("input", { id: "set-reason", name: "reason", maxlength: 500, autocomplete: "off", placeholder: "why, e.g. tuning for our SSO" });
const saved = h("span", { class: "hint", id: "set-saved", role: "status" });
const formError = h("p", { class: "error", id: "set-error", role: "alert", hidden: true });
const form = h("form", { id: "set-form", novalidate: true },
  h("div", { class: "table-wrap" }, h("table", { class: "table compact settings" },
    h("thead", null, h("tr", null, h("th", null, "Setting"), h("th", null, "Value"), h("th", { class: "num" }, "Default"),
      h("th", { class: "num" }, "Range"), h("th", { class: "col-act" }, ""))),
    h("tbody", null,
      rows.map((r) => h("tr", { "data-field": `${r.group}.${r.name}` },
        h("td", null, r.label),
        h("td", null, h("span", { class: "with-unit" }, r.input, h("span", { class: "muted" }, r.unit)), fieldError(`${r.group}.${r.name}`)),
        r.def,
        h("td", { class: "num muted" }, `${fmtNum(r.min)}–${fmtNum(r.max)}`),
        h("td", { class: "col-act" }, r.reset))),
      h("tr", { "data-field": "country_blocklist" },
        h("td", null, "Country blocklist: a login from these is a high geo anomaly"),
        h("td", null, blocklist, blockNames, fieldError("country_blocklist")),
        blockDefault,
        h("td", { class: "num muted" }, "≤ 250 codes"),
        h("td", { class: "col-act" }, blockReset))))),
  h("div", { class: "inline-form" },
    h("label", { class: "wide" }, "Reason for the change", reason, fieldError("reason")),
    h("button", { type: "submit", class: "btn primary small", id: "set-save" }, "Save"),
    saved),
  formError);
byId("set-form-slot").replaceWith(form);

let state: DetectionSettings | null = null;

const codes = (text: string) => text.split(/[\s,;]+/).map((c) => c.trim().toUpperCase()).filter(Boolean);
const read = (v: SettingsValues, r: Row) => (v[r.group] as Record<string, number>)[r.name];

function syncNames(): void {
  blockNames.textContent = codes(blocklist.value).map(countryLabel).join(", ");
}

/** Shows `next`; inputs the analyst edited keep their text unless `touched` names them. */
function show(next: DetectionSettings, touched: Set<string> | "all"): void {
  const prev = state;
  state = next;
  for (const r of rows) {
    const field = `${r.group}.${r.name}`;
    const edited = prev && r.input.value !== String(read(prev, r));
    if (touched === "all" || touched.has(field) || !edited) r.input.value = String(read(next, r));
    r.def.textContent = `${fmtNum(read(next.defaults, r))} ${r.unit}`;
    r.reset.disabled = read(next, r) === read(next.defaults, r);
  }
  const edited = prev && codes(blocklist.value).join(",") !== prev.country_blocklist.join(",");
  if (touched === "all" || touched.has("country_blocklist") || !edited) blocklist.value = next.country_blocklist.join(", ");
  blockDefault.textContent = next.defaults.country_blocklist.length ? next.defaults.country_blocklist.join(", ") : "none";
  blockReset.disabled = next.country_blocklist.join(",") === next.defaults.country_blocklist.join(",");
  syncNames();
  meta.textContent = next.updated_at ? "tuned for this organisation" : "the documented defaults";
  changed.replaceChildren(...(next.updated_at
    ? ["Last changed by ", h("span", { class: "mono", id: "set-by" }, next.updated_by ?? "api"), " on ",
      h("time", { datetime: next.updated_at, title: next.updated_at }, `${fmtDateTime(next.updated_at)} UTC`),
      ...(next.reason ? [": ", h("q", { id: "set-why" }, next.reason)] : [" (no reason given)"])]
    : ["Never changed: the defaults are in force."]));
}

/** Loads the settings; a Free organisation sees why they are not there. */
export async function loadSettings(): Promise<void> {
  try {
    show(await api<DetectionSettings>("GET", "/settings/detection"), "all");
    note.hidden = true;
    form.hidden = false;
  } catch (err) {
    note.hidden = false;
    form.hidden = planRestricted(err);
    note.textContent = planRestricted(err) ? "Detection settings can be tuned on the Pro plan or above; the documented defaults apply." : message(err);
  }
}

async function patch(body: Record<string, unknown>, touched: Set<string>): Promise<void> {
  clearErrors(form, formError);
  saved.textContent = "";
  if (reason.value.trim()) body.reason = reason.value;
  try {
    show(await api<DetectionSettings>("PATCH", "/settings/detection", body), touched);
    reason.value = "";
    saved.textContent = "Saved.";
  } catch (err) {
    showErrors(form, formError, err);
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (!state) return;
  clearErrors(form, formError);
  const body: Record<string, Record<string, number> | string[]> = {};
  const touched = new Set<string>();
  let bad = false;
  for (const r of rows) {
    const text = r.input.value.trim();
    if (text === String(read(state, r)) && !r.input.validity.badInput) continue;
    if (!text) {
      setFieldError(form, `${r.group}.${r.name}`, "enter a number, or Reset for the default");
      bad = true;
      continue;
    }
    ((body[r.group] ??= {}) as Record<string, number>)[r.name] = Number(text);
    touched.add(`${r.group}.${r.name}`);
  }
  const list = codes(blocklist.value);
  if (list.join(",") !== state.country_blocklist.join(",")) {
    body.country_blocklist = list;
    touched.add("country_blocklist");
  }
  if (bad) return;
  if (!touched.size) {
    saved.textContent = "Nothing changed.";
    return;
  }
  void patch(body, touched);
});
for (const r of rows) {
  r.reset.addEventListener("click", () => void patch({ [r.group]: { [r.name]: null } }, new Set([`${r.group}.${r.name}`])));
}
blockReset.addEventListener("click", () => void patch({ country_blocklist: null }, new Set(["country_blocklist"])));
blocklist.addEventListener("input", syncNames);
