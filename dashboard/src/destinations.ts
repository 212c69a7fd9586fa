// The "Alert destinations" card: where this organisation's alerts go (docs/api.md §11). Lists the
// destinations, adds one (showing a webhook's signing secret once), sends a test alert,
// enables and disables, deletes, and shows a destination's delivery log. Everything rendered
// goes through textContent (dom.ts).
import { api, ApiError } from "./api";
import { byId, h } from "./dom";
import { fmtClock } from "./format";

interface Destination {
  id: string;
  name: string;
  kind: "webhook" | "slack" | "pagerduty" | "email";
  url?: string;
  routing_key?: string;
  address?: string;
  secret?: string;
  min_severity: string;
  alert_types: string[] | null;
  enabled: boolean;
}

interface TestResult {
  delivered: boolean;
  status: number | null;
  latency_ms: number;
  error: string | null;
}

interface Attempt {
  delivery_id: string;
  reason: string;
  attempt: number;
  at: string;
  status: number | null;
  latency_ms: number | null;
  error: string | null;
  outcome: string;
  next_retry_at: string | null;
}

const TARGET: Record<Destination["kind"], { field: "url" | "routing_key" | "address"; label: string; placeholder: string }> = {
  webhook: { field: "url", label: "URL", placeholder: "https://hooks.example.com/edgesoc" },
  slack: { field: "url", label: "Slack webhook URL", placeholder: "https://hooks.slack.com/services/…" },
  pagerduty: { field: "routing_key", label: "Routing key", placeholder: "32-character integration key" },
  email: { field: "address", label: "Address", placeholder: "soc@example.com" },
};

const el = {
  card: byId("card-destinations"),
  meta: byId("destinations-meta"),
  note: byId("dest-note"),
  toggle: byId<HTMLButtonElement>("dest-add-toggle"),
  form: byId<HTMLFormElement>("dest-form"),
  name: byId<HTMLInputElement>("dest-name"),
  kind: byId<HTMLSelectElement>("dest-kind"),
  targetLabel: byId("dest-target-label"),
  target: byId<HTMLInputElement>("dest-target"),
  severity: byId<HTMLSelectElement>("dest-severity"),
  formError: byId("dest-form-error"),
  secret: byId("dest-secret"),
  body: byId("destinations").querySelector("tbody")!,
  log: byId("dest-log"),
  logTitle: byId("dest-log-title"),
  logBody: byId("deliveries").querySelector("tbody")!,
};

let list: Destination[] = [];
const results = new Map<string, string>();

function message(err: unknown): string {
  return err instanceof ApiError ? `${err.status}: ${err.message}` : `Request failed: ${(err as Error).message}`;
}

function targetOf(d: Destination): string {
  return d.url ?? d.routing_key ?? d.address ?? "";
}

function syncKind(): void {
  const t = TARGET[el.kind.value as Destination["kind"]];
  el.targetLabel.textContent = t.label;
  el.target.placeholder = t.placeholder;
}

function render(): void {
  el.meta.textContent = `${list.length} configured`;
  el.body.replaceChildren(...list.map((d) => h("tr", { "data-id": d.id, class: d.enabled ? "" : "disabled" },
    h("td", null, d.name),
    h("td", null, d.kind),
    h("td", { class: "mono" }, targetOf(d)),
    h("td", null, d.min_severity, d.alert_types ? ` · ${d.alert_types.join(", ")}` : ""),
    h("td", null, d.enabled ? "Enabled" : "Disabled"),
    h("td", { class: "col-act" },
      h("div", { class: "actions" },
        h("button", { type: "button", class: "btn small dest-test", onclick: () => void test(d) }, "Test"),
        h("button", { type: "button", class: "btn small ghost dest-enable", onclick: () => void setEnabled(d, !d.enabled) },
          d.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", class: "btn small ghost dest-log", onclick: () => void showLog(d) }, "Log"),
        h("button", { type: "button", class: "btn small ghost dest-delete", onclick: () => void remove(d) }, "Delete")),
      results.has(d.id) ? h("div", { class: "dest-result", role: "status" }, results.get(d.id)) : null))));
}

/** Loads the list; a Free organisation sees why alert delivery is not there. */
export async function loadDestinations(): Promise<void> {
  try {
    list = await api<Destination[]>("GET", "/destinations");
    el.note.hidden = true;
    el.toggle.disabled = false;
    render();
  } catch (err) {
    list = [];
    render();
    el.note.hidden = false;
    el.toggle.disabled = err instanceof ApiError && err.code === "PLAN_RESTRICTED";
    el.note.textContent = err instanceof ApiError && err.code === "PLAN_RESTRICTED"
      ? "Alert delivery (webhooks, Slack, PagerDuty, email) needs the Pro plan or above."
      : message(err);
  }
}

async function test(d: Destination): Promise<void> {
  results.set(d.id, "Sending…");
  render();
  try {
    const r = await api<TestResult>("POST", `/destinations/${encodeURIComponent(d.id)}/test`);
    results.set(d.id, r.delivered
      ? `Delivered: HTTP ${r.status} in ${r.latency_ms} ms`
      : `Not delivered: ${r.status != null ? `HTTP ${r.status}` : r.error ?? "no answer"} after ${r.latency_ms} ms`);
  } catch (err) {
    results.set(d.id, message(err));
  }
  render();
}

async function setEnabled(d: Destination, enabled: boolean): Promise<void> {
  try {
    const updated = await api<Destination>("PATCH", `/destinations/${encodeURIComponent(d.id)}`, { enabled });
    list = list.map((x) => (x.id === d.id ? updated : x));
    render();
  } catch (err) {
    results.set(d.id, message(err));
    render();
  }
}

async function remove(d: Destination): Promise<void> {
  if (!window.confirm(`Delete the destination "${d.name}"? Its pending deliveries are cancelled.`)) return;
  try {
    await api("DELETE", `/destinations/${encodeURIComponent(d.id)}`);
    list = list.filter((x) => x.id !== d.id);
    if (el.log.dataset.id === d.id) el.log.hidden = true;
    render();
  } catch (err) {
    results.set(d.id, message(err));
    render();
  }
}

async function showLog(d: Destination): Promise<void> {
  el.log.hidden = false;
  el.log.dataset.id = d.id;
  el.logTitle.textContent = `Delivery log — ${d.name}`;
  try {
    const attempts = await api<Attempt[]>("GET", `/destinations/${encodeURIComponent(d.id)}/deliveries?limit=50`);
    el.logBody.replaceChildren(...(attempts.length ? attempts.map((a) => h("tr", { class: `outcome-${a.outcome}` },
      h("td", null, `${fmtClock(a.at)} UTC`),
      h("td", null, a.reason),
      h("td", null, String(a.attempt)),
      h("td", null, a.outcome),
      h("td", null, a.status != null ? String(a.status) : "—"),
      h("td", null, a.latency_ms != null ? `${a.latency_ms} ms` : "—"),
      h("td", null, a.error ?? ""),
      h("td", null, a.next_retry_at ? `${fmtClock(a.next_retry_at)} UTC` : ""))) : [h("tr", null, h("td", { colspan: 8 }, "No deliveries yet."))]));
  } catch (err) {
    el.logBody.replaceChildren(h("tr", null, h("td", { colspan: 8 }, message(err))));
  }
}

el.kind.addEventListener("change", syncKind);
el.toggle.addEventListener("click", () => {
  el.form.hidden = !el.form.hidden;
  el.toggle.setAttribute("aria-expanded", String(!el.form.hidden));
  if (!el.form.hidden) el.name.focus();
});
el.form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const kind = el.kind.value as Destination["kind"];
  el.formError.hidden = true;
  try {
    const made = await api<Destination>("POST", "/destinations", {
      name: el.name.value, kind, [TARGET[kind].field]: el.target.value, min_severity: el.severity.value,
    });
    el.form.reset();
    syncKind();
    el.form.hidden = true;
    el.secret.hidden = !made.secret;
    el.secret.textContent = made.secret
      ? `Signing secret for "${made.name}" (shown once; your receiver verifies webhook-signature with it): ${made.secret}`
      : "";
    delete made.secret;
    list = [...list, made];
    render();
  } catch (err) {
    el.formError.hidden = false;
    el.formError.textContent = err instanceof ApiError && err.code === "VALIDATION_ERROR" ? err.message : message(err);
  }
});
syncKind();
