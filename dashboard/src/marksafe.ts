// "Mark safe & suppress": one call (PATCH /alerts/:id with `suppress`, docs/api.md §12.2) marks
// an alert safe and creates a suppression from the alert's own values. The dialog offers the
// scopes the alert carries: its IP, its /24 (IPv6 /64), its actor, and, once GET /alerts/:id has
// told them, its ASN and country. A dialog rather than a table row, so the 30 s refresh never
// wipes what the analyst is typing.
import { api } from "./api";
import {
  clearErrors, countryLabel, expiryPicker, fieldError, message, networkOf, planRestricted, setFieldError, showErrors, typePicker,
} from "./controls";
import { h } from "./dom";
import type { Alert, Anomaly } from "./types";

interface Choice {
  scope: string;
  label: string;
  value: string;
}

const choices = h("div", { class: "scope-list", id: "ms-scopes", role: "radiogroup", "aria-label": "Suppress" });
const cidr = h("input", { id: "ms-cidr", name: "cidr", autocomplete: "off", spellcheck: "false", "aria-label": "Network (CIDR)" });
const details = h("p", { class: "note", id: "ms-details" });
const types = typePicker("ms-types");
const reason = h("input", { id: "ms-reason", name: "reason", maxlength: 500, autocomplete: "off" });
const expiry = expiryPicker("ms");
const formError = h("p", { class: "error", id: "ms-error", role: "alert", hidden: true });
const summary = h("p", { id: "ms-alert" });
const submit = h("button", { type: "submit", class: "btn primary", id: "ms-submit" }, "Mark safe & suppress");
const cancel = h("button", { type: "button", class: "btn ghost", id: "ms-cancel" }, "Cancel");
const form = h("form", { method: "dialog", id: "ms-form", novalidate: true },
  h("h2", { id: "ms-title" }, "Mark safe & suppress"),
  summary,
  h("div", { class: "field" }, h("span", null, "Suppress future alerts from"), choices, fieldError("scope"), fieldError("value"), details),
  h("div", { class: "field" }, h("span", null, "Alert types"), types.el, fieldError("alert_types")),
  h("label", null, "Reason", reason, fieldError("reason")),
  h("div", { class: "field" }, h("span", null, "Expires"), expiry.el, fieldError("expires_at")),
  formError,
  h("div", { class: "actions" }, cancel, submit));
const dialog = h("dialog", { id: "ms-dialog", class: "wide", "aria-labelledby": "ms-title" }, form);
document.body.append(dialog);

let current: Anomaly | null = null;
let done: ((alert: Alert) => void) | null = null;

function renderChoices(list: Choice[]): void {
  const selected = choices.querySelector<HTMLInputElement>("input:checked")?.value ?? list[0]?.scope;
  choices.replaceChildren(...list.map((c) => {
    const radio = h("input", { type: "radio", name: "ms-scope", value: c.scope, checked: c.scope === selected });
    return h("label", { class: "check", "data-scope": c.scope }, radio, h("span", null, c.label, " "),
      c.scope === "cidr" ? cidr : h("span", { class: "mono" }, c.value));
  }));
}

function baseChoices(a: Anomaly): Choice[] {
  const out: Choice[] = [];
  const net = a.sourceIp ? networkOf(a.sourceIp) : null;
  if (a.sourceIp) out.push({ scope: "ip", label: "Its IP", value: a.sourceIp });
  if (net) out.push({ scope: "cidr", label: "Its network", value: net });
  if (a.user) out.push({ scope: "actor", label: "Its actor", value: a.user });
  return out;
}

/** Adds the ASN and country that only the Alert object carries (forensics, metadata.country). */
async function addDetails(a: Anomaly, base: Choice[]): Promise<void> {
  try {
    const full = await api<Alert>("GET", `/alerts/${encodeURIComponent(a.id)}`);
    if (current?.id !== a.id) return;
    const asn = full.forensics?.network?.asn;
    const org = full.forensics?.network?.asn_org;
    const country = full.metadata?.country ?? full.forensics?.location?.country_code ?? null;
    const more: Choice[] = [];
    if (asn) more.push({ scope: "asn", label: "Its ASN", value: `AS${asn}${org ? ` ${org}` : ""}` });
    if (country) more.push({ scope: "country", label: "Its country", value: countryLabel(country) });
    renderChoices([...base, ...more]);
    details.textContent = !base.length && !more.length ? "The alert carries no IP, actor, ASN or country to suppress."
      : more.length ? "" : "The alert carries no ASN or country.";
  } catch (err) {
    if (current?.id !== a.id) return;
    details.textContent = planRestricted(err) ? "Mark safe & suppress needs the Pro plan or above." : message(err);
    if (planRestricted(err)) submit.disabled = true;
  }
}

/** Opens the dialog for `a`; `onDone` gets the updated alert, its `suppression` included. */
export function openMarkSafe(a: Anomaly, onDone: (alert: Alert) => void): void {
  current = a;
  done = onDone;
  form.reset();
  clearErrors(form, formError);
  expiry.reset();
  types.set([a.type]);
  submit.disabled = false;
  summary.replaceChildren(h("b", null, a.title), h("br"),
    "The alert is marked safe, and later alerts that match are recorded as suppressed instead of raised.");
  reason.placeholder = `Marked safe from alert ${a.id}`;
  const base = baseChoices(a);
  cidr.value = base.find((c) => c.scope === "cidr")?.value ?? "";
  choices.replaceChildren();
  renderChoices(base);
  details.textContent = "Looking up the alert's ASN and country…";
  void addDetails(a, base);
  dialog.showModal();
}

cancel.addEventListener("click", () => dialog.close());
// Editing the network chooses it.
cidr.addEventListener("focus", () => {
  const radio = choices.querySelector<HTMLInputElement>('input[value="cidr"]');
  if (radio) radio.checked = true;
});
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!current) return;
  const a = current;
  clearErrors(form, formError);
  const scope = choices.querySelector<HTMLInputElement>("input:checked")?.value;
  if (!scope) return setFieldError(form, "scope", "choose what to suppress");
  const expires = expiry.value();
  if (expires === undefined) return setFieldError(form, "expires_at", "choose a date");
  const suppress: Record<string, unknown> = { scope, alert_types: types.value(), expires_at: expires };
  if (scope === "cidr") suppress.value = cidr.value;
  if (reason.value.trim()) suppress.reason = reason.value;
  submit.disabled = true;
  try {
    const alert = await api<Alert>("PATCH", `/alerts/${encodeURIComponent(a.id)}`, { action: "mark_safe", suppress });
    dialog.close();
    current = null;
    done?.(alert);
  } catch (err) {
    showErrors(form, formError, err, "suppress.");
  } finally {
    submit.disabled = false;
  }
});
