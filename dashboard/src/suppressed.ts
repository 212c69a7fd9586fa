// Suppressed alerts, on demand. The dashboard's anomalies leave them out (docs/dashboard.md §2),
// so "Show suppressed" lists them from GET /alerts?status=suppressed (docs/api.md §5.4, Pro and
// above) for the window on screen, each with the suppression that matched it.
import { api } from "./api";
import { message, planRestricted, scopeText } from "./controls";
import { byId, h } from "./dom";
import { fmtDateTime, humanize, sevClass } from "./format";
import type { Alert, Suppression } from "./types";

const toggle = byId<HTMLButtonElement>("suppressed-toggle");
const wrap = byId("suppressed-wrap");
const meta = byId("suppressed-meta");
const body = byId("suppressed-alerts").querySelector("tbody")!;

let from: string | null = null;
const suppressions = new Map<string, Suppression | null>();

const LIMIT = 100;

function cell(text: string | null, cls = "") {
  return h("td", { class: cls }, text ? text : h("span", { class: "muted" }, "—"));
}

function suppressionCell(id: string | null) {
  const s = id ? suppressions.get(id) : null;
  if (!id) return cell(null);
  if (!s) return h("td", { class: "mono", title: id }, id);
  return h("td", { title: id },
    h("span", { class: "sup-scope" }, scopeText(s.scope, s.value)),
    h("span", { class: "muted sup-why" }, ` — ${s.reason}`),
    s.status !== "active" ? h("span", { class: "muted" }, ` (${s.status})`) : null);
}

function render(alerts: Alert[]): void {
  meta.textContent = `${alerts.length}${alerts.length === LIMIT ? "+" : ""} in window`;
  body.replaceChildren(...(alerts.length ? alerts.map((a) => h("tr", { "data-id": a.id },
    h("td", null, h("span", { class: `sev sev-${sevClass(a.severity)}` }, humanize(a.severity))),
    h("td", { class: "nowrap" }, humanize(a.alert_type)),
    h("td", { class: "col-desc" }, h("div", { class: "title" }, a.title)),
    cell(a.actor_id),
    cell(a.source_ip, "mono"),
    h("td", { class: "nowrap muted" }, h("time", { datetime: a.created_at, title: a.created_at }, fmtDateTime(a.created_at))),
    h("td", null, humanize(a.status)),
    suppressionCell(a.suppressed_by)))
    : [h("tr", { class: "empty" }, h("td", { colspan: 8 }, "No suppressed alerts in this window."))]));
}

/** Reloads the list when it is shown; `start` is the window's start (timeRange.start). */
export async function loadSuppressed(start?: string): Promise<void> {
  if (start) from = start;
  if (wrap.hidden) return;
  try {
    const q = new URLSearchParams({ status: "suppressed", limit: String(LIMIT) });
    if (from) q.set("from", from);
    const alerts = await api<Alert[]>("GET", `/alerts?${q}`);
    // The suppressions named, read once each (GET /suppressions/:id answers ended ones too).
    const ids = [...new Set(alerts.map((a) => a.suppressed_by).filter((x): x is string => !!x))].filter((id) => !suppressions.has(id));
    await Promise.all(ids.map(async (id) => {
      try {
        suppressions.set(id, await api<Suppression>("GET", `/suppressions/${encodeURIComponent(id)}`));
      } catch {
        suppressions.set(id, null);
      }
    }));
    render(alerts);
  } catch (err) {
    meta.textContent = "";
    body.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: 8 },
      planRestricted(err) ? "Listing suppressed alerts needs the Pro plan or above." : message(err))));
  }
}

toggle.addEventListener("click", () => {
  wrap.hidden = !wrap.hidden;
  toggle.setAttribute("aria-pressed", String(!wrap.hidden));
  toggle.textContent = wrap.hidden ? "Show suppressed" : "Hide suppressed";
  suppressions.clear();
  void loadSuppressed();
});
