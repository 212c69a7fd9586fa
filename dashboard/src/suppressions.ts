// The "Suppressions" card: what this organisation told detection to record as suppressed instead
// of raising (docs/api.md §12.1). Lists the active suppressions (or, with "include expired", the
// ended ones too), creates one (scope, value, alert types, reason, expiry) with the API's field
// errors next to the fields, and deletes one after a confirmation. Free plans see a Pro note.
import { api } from "./api";
import {
  clearErrors, countryLabel, expiryPicker, fieldError, message, planRestricted, scopeLabel, scopeText, setFieldError, showErrors, typePicker,
} from "./controls";
import { byId, h } from "./dom";
import { countryName, fmtDateTime, humanize } from "./format";
import type { Suppression, SuppressionScope } from "./types";

const SCOPES: Record<SuppressionScope, { label: string; placeholder: string }> = {
  ip: { label: "IP address", placeholder: "203.0.113.7 or 2001:db8::1" },
  cidr: { label: "Network (CIDR)", placeholder: "203.0.113.0/24, at most /8 (IPv6 /16)" },
  asn: { label: "ASN", placeholder: "AS13335" },
  actor: { label: "Actor", placeholder: "the actor id, exactly" },
  country: { label: "Country", placeholder: "ISO code, e.g. DE" },
};

const meta = byId("suppressions-meta");
const note = byId("sup-note");
const toggle = byId<HTMLButtonElement>("sup-add-toggle");
const expired = byId<HTMLInputElement>("sup-include-expired");
const body = byId("suppressions").querySelector("tbody")!;

const scope = h("select", { id: "sup-scope", name: "scope" },
  Object.entries(SCOPES).map(([v, s]) => h("option", { value: v }, s.label)));
const value = h("input", { id: "sup-value", name: "value", required: true, autocomplete: "off", spellcheck: "false" });
const valueHint = h("span", { class: "hint", id: "sup-value-hint" });
const types = typePicker("sup-types");
const reason = h("input", { id: "sup-reason", name: "reason", required: true, maxlength: 500, autocomplete: "off", placeholder: "why, e.g. our VPN egress" });
const expiry = expiryPicker("sup");
const formError = h("p", { class: "error", id: "sup-form-error", role: "alert", hidden: true });
const form = h("form", { class: "inline-form", id: "sup-form", novalidate: true, hidden: true },
  h("label", null, "Scope", scope, fieldError("scope")),
  h("label", { class: "wide" }, "Value", value, valueHint, fieldError("value")),
  h("div", { class: "field" }, h("span", null, "Alert types"), types.el, fieldError("alert_types")),
  h("label", { class: "wide" }, "Reason", reason, fieldError("reason")),
  h("div", { class: "field" }, h("span", null, "Expires"), expiry.el, fieldError("expires_at")),
  h("button", { type: "submit", class: "btn primary small", id: "sup-submit" }, "Add suppression"),
  formError);
byId("sup-form-slot").replaceWith(form);

let list: Suppression[] = [];
const rowErrors = new Map<string, string>();

function syncScope(): void {
  value.placeholder = SCOPES[scope.value as SuppressionScope].placeholder;
  syncHint();
}

function syncHint(): void {
  const v = value.value.trim();
  valueHint.textContent = scope.value === "country" && /^[a-z]{2}$/i.test(v) && countryName(v) !== v ? countryName(v) : "";
}

const when = (iso: string | null, none: string) =>
  iso ? h("time", { datetime: iso, title: iso }, `${fmtDateTime(iso)} UTC`) : h("span", { class: "muted" }, none);

function render(): void {
  const active = list.filter((s) => s.status === "active").length;
  meta.textContent = expired.checked ? `${active} active · ${list.length - active} ended` : `${active} active`;
  body.replaceChildren(...(list.length ? list.map((s) => h("tr", { "data-id": s.id, class: `sup-${s.status === "active" ? "active" : "ended"}` },
    h("td", null, scopeLabel(s.scope)),
    h("td", { class: "mono sup-value", title: s.value }, s.scope === "country" ? countryLabel(s.value) : s.value),
    h("td", { class: "sup-types" }, s.alert_types ? s.alert_types.map(humanize).join(", ") : h("span", { class: "muted" }, "All types")),
    h("td", { class: "sup-reason" }, s.reason),
    h("td", { class: "mono sup-by" }, s.created_by),
    h("td", { class: "nowrap" }, when(s.created_at, "")),
    h("td", { class: "nowrap" }, when(s.expires_at, "Never")),
    h("td", null, h("span", { class: `status st-${s.status === "active" ? "active" : "other"}` }, humanize(s.status)),
      s.deleted_by ? h("span", { class: "muted small" }, ` by ${s.deleted_by}`) : null),
    h("td", { class: "col-act" },
      s.status === "active"
        ? h("button", { type: "button", class: "btn small ghost sup-delete", onclick: () => void remove(s) }, "Delete")
        : null,
      rowErrors.has(s.id) ? h("div", { class: "row-error", role: "alert" }, rowErrors.get(s.id)) : null)))
    : [h("tr", { class: "empty" }, h("td", { colspan: 9 }, expired.checked ? "No suppressions." : "No active suppressions."))]));
}

/** Loads the list; a Free organisation sees why suppressions are not there. */
export async function loadSuppressions(): Promise<void> {
  try {
    list = await api<Suppression[]>("GET", `/suppressions${expired.checked ? "?include=expired" : ""}`);
    note.hidden = true;
    toggle.disabled = false;
    expired.disabled = false;
  } catch (err) {
    list = [];
    note.hidden = false;
    toggle.disabled = expired.disabled = planRestricted(err);
    if (planRestricted(err)) form.hidden = true;
    note.textContent = planRestricted(err)
      ? "Suppressions (and \u201cMark safe & suppress\u201d) need the Pro plan or above."
      : message(err);
  }
  render();
}

async function remove(s: Suppression): Promise<void> {
  const what = scopeText(s.scope, s.value);
  if (!window.confirm(`Delete the suppression of ${what}? Alerts it matches will be raised again.`)) return;
  rowErrors.delete(s.id);
  try {
    const ended = await api<Suppression>("DELETE", `/suppressions/${encodeURIComponent(s.id)}`);
    list = expired.checked ? list.map((x) => (x.id === s.id ? ended : x)) : list.filter((x) => x.id !== s.id);
  } catch (err) {
    rowErrors.set(s.id, message(err));
  }
  render();
}

scope.addEventListener("change", syncScope);
value.addEventListener("input", syncHint);
expired.addEventListener("change", () => void loadSuppressions());
toggle.addEventListener("click", () => {
  form.hidden = !form.hidden;
  toggle.setAttribute("aria-expanded", String(!form.hidden));
  if (!form.hidden) value.focus();
});
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearErrors(form, formError);
  const expires = expiry.value();
  if (expires === undefined) {
    setFieldError(form, "expires_at", "choose a date");
    return;
  }
  try {
    const made = await api<Suppression>("POST", "/suppressions", {
      scope: scope.value, value: value.value, alert_types: types.value(), reason: reason.value, expires_at: expires,
    });
    form.reset();
    types.set([]);
    expiry.reset();
    syncScope();
    form.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    list = [made, ...list];
    render();
  } catch (err) {
    showErrors(form, formError, err);
  }
});
syncScope();
