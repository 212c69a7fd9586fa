// Tables, tiles and the live stream. Built with h(): data only ever reaches the DOM as text.
import { h } from "./dom";
import {
  countryName, flattenEvidence, fmtClock, fmtDateTime, fmtNum, humanize, isOffHours, levelClass,
  sevClass, sevRank, SEVERITIES, shortId, type EvidenceRow,
} from "./format";
import type { Anomaly, Attacker, IamChange, Log, MockData } from "./types";

const time = (iso: string, text = fmtDateTime(iso)) => h("time", { datetime: iso, title: `${iso}` }, text);
const mono = (s: string | null | undefined) => (s ? h("span", { class: "mono" }, s) : h("span", { class: "muted" }, "—"));
const sevBadge = (s: string) => h("span", { class: `sev sev-${sevClass(s)}` }, humanize(s));
const emptyRow = (cols: number, text: string) =>
  h("tr", { class: "empty" }, h("td", { colspan: cols }, text));

// ---------- KPI tiles ----------

/** The KPI tiles. `openOnly`: the anomalies are the open ones (anomaly_status=active), and the
 *  labels say so; `custom`: the window is a custom range, not the last N hours. */
export function renderKpis(el: HTMLElement, d: MockData, openOnly: boolean, custom: boolean): void {
  const s = d.stats;
  const win = custom ? "in the range" : `last ${d.timeRange.hours === 168 ? "7 d" : `${d.timeRange.hours} h`}`;
  const tile = (id: string, label: string, value: string, sub: string, tone = "") =>
    h("div", { class: `kpi ${tone}`, id: `kpi-${id}` },
      h("span", { class: "kpi-label" }, label),
      h("span", { class: "kpi-value" }, value),
      h("span", { class: "kpi-sub" }, sub));
  el.replaceChildren(
    tile("total", "Total events", fmtNum(s.totalEvents), win),
    tile("critical", openOnly ? "Open critical threats" : "Critical threats", fmtNum(s.criticalThreats),
      `of ${fmtNum(s.totalAnomalies)} ${openOnly ? "open anomalies" : "anomalies, closed included"}`,
      s.criticalThreats > 0 ? "tone-critical" : ""),
    tile("failed", "Failed logins", fmtNum(s.failedLogins), "login failures", s.failedLogins > 0 ? "tone-warn" : ""),
    tile("iam", "IAM changes", fmtNum(s.iamChanges), "roles, policies, keys"),
    tile("sources", "Attack sources", fmtNum(s.attackSources), "distinct hostile IPs", s.attackSources > 0 ? "tone-high" : ""),
    tile("rate", "Events / hour", s.eventsPerHour.toLocaleString("en-US", { maximumFractionDigits: 1 }), "average rate"),
  );
}

export function renderKpiPlaceholders(el: HTMLElement): void {
  el.replaceChildren(...["Total events", "Critical threats", "Failed logins", "IAM changes", "Attack sources", "Events / hour"]
    .map((label) => h("div", { class: "kpi placeholder" },
      h("span", { class: "kpi-label" }, label), h("span", { class: "kpi-value" }, "–"), h("span", { class: "kpi-sub" }, "\u00a0"))));
}

// ---------- Threat legend ----------

export function renderThreatLegend(el: HTMLElement, dist: { level: string; count: number }[]): void {
  el.replaceChildren(...dist.map((d) =>
    h("li", null,
      h("span", { class: `swatch bg-${sevClass(d.level)}` }),
      h("span", { class: "legend-name" }, humanize(d.level)),
      h("b", null, fmtNum(d.count)))));
}

// ---------- Anomalies ----------

export interface AnomalyUi {
  filter: string; // "all" or a severity
  expanded: Set<string>;
  pending: Set<string>;
  errors: Map<string, string>;
  statusOverride: Map<string, string>;
  /** Why the signed-in person cannot change alerts (a viewer, the public organisation); null: they can. */
  readOnly: string | null;
  /** The plan does not allow acting on alerts: the read-only note names the plan that does. */
  upgrade: boolean;
  onToggle(id: string): void;
  onAction(a: Anomaly, action: "acknowledge" | "resolve" | "mark_safe" | "suppress"): void;
  onFilter(sev: string): void;
}

export function renderSevFilter(el: HTMLElement, anomalies: Anomaly[], ui: AnomalyUi): void {
  const count = (s: string) => anomalies.filter((a) => s === "all" || a.severity === s).length;
  el.replaceChildren(...["all", ...SEVERITIES].map((s) =>
    h("button", {
      type: "button",
      class: `chip chip-${s}${ui.filter === s ? " on" : ""}`,
      "aria-pressed": String(ui.filter === s),
      "data-sev": s,
      onclick: () => ui.onFilter(s),
    }, s === "all" ? "All" : humanize(s), h("span", { class: "chip-n" }, String(count(s))))));
}

function confidenceBar(c: number) {
  const v = Math.max(0, Math.min(100, Math.round(Number(c) || 0)));
  const tone = v >= 80 ? "hi" : v >= 60 ? "mid" : "lo";
  const fill = h("span", { class: `conf-fill conf-${tone}` });
  fill.style.width = `${v}%`;
  return h("div", { class: "conf", title: `Confidence ${v}%`, role: "meter", "aria-valuenow": v, "aria-valuemin": 0, "aria-valuemax": 100 },
    h("span", { class: "conf-track" }, fill), h("span", { class: "conf-num" }, `${v}%`));
}

function statusCell(a: Anomaly, ui: AnomalyUi) {
  const status = ui.statusOverride.get(a.id) ?? a.status;
  const err = ui.errors.get(a.id);
  const busy = ui.pending.has(a.id);
  const cell = h("td", { class: "col-act" });
  if ((status === "open" || status === "acknowledged") && ui.readOnly) {
    cell.append(h("span", { class: `status st-${status}`, title: ui.readOnly }, humanize(status)));
    if (ui.upgrade) cell.append(h("div", { class: "plan-note" }, "Actions need Pro"));
  } else if (status === "open" || status === "acknowledged") {
    const ack = status === "open"
      ? h("button", { type: "button", class: "btn small ghost act-ack", disabled: busy, "data-action": "acknowledge",
        title: "Someone is on it: it stays active and keeps collecting occurrences",
        onclick: (e: Event) => { e.stopPropagation(); ui.onAction(a, "acknowledge"); } }, "Acknowledge")
      : h("span", { class: "status st-acknowledged" }, "Acknowledged");
    cell.append(h("div", { class: "actions" }, ack,
      h("button", { type: "button", class: "btn small act-resolve", disabled: busy, "data-action": "resolve",
        onclick: (e: Event) => { e.stopPropagation(); ui.onAction(a, "resolve"); } }, busy ? "…" : "Resolve"),
      h("button", { type: "button", class: "btn small ghost act-safe", disabled: busy, "data-action": "mark_safe",
        onclick: (e: Event) => { e.stopPropagation(); ui.onAction(a, "mark_safe"); } }, "Mark safe"),
      h("button", { type: "button", class: "btn small ghost act-suppress", disabled: busy, "data-action": "suppress",
        title: "Mark safe, and record later alerts from its IP, network, ASN, actor or country as suppressed",
        onclick: (e: Event) => { e.stopPropagation(); ui.onAction(a, "suppress"); } }, "Mark safe & suppress")));
  } else {
    cell.append(h("span", { class: `status st-${status === "resolved" || status === "safe" ? status : "other"}` },
      status === "safe" ? "Safe" : humanize(status)));
  }
  if (err) cell.append(h("div", { class: "row-error", role: "alert" }, err));
  return cell;
}

/** One evidence row: its text, a hop's two ends on their own lines, ids shortened with the full id as a title. */
function evidenceItem(r: EvidenceRow) {
  return h("div", { class: r.wide ? "ev-wide" : null, "data-key": r.key },
    h("dt", null, r.key),
    h("dd", null,
      h("span", { class: "ev-text" }, r.text),
      r.lines?.map((l) => h("span", { class: "ev-line" }, l)),
      r.ids?.length ? h("span", { class: "ev-ids" }, r.ids.map((id) => h("code", { class: "ev-id", title: id }, shortId(id)))) : null));
}

export function renderAnomalies(tbody: HTMLElement, anomalies: Anomaly[], ui: AnomalyUi): number {
  const statusOf = (a: Anomaly) => ui.statusOverride.get(a.id) ?? a.status;
  const active = (a: Anomaly) => ["open", "acknowledged"].includes(statusOf(a));
  const rows = anomalies
    .filter((a) => ui.filter === "all" || a.severity === ui.filter)
    .slice()
    // active alerts first (what needs a decision), then the contract's order: severity, newest
    .sort((x, y) => Number(!active(x)) - Number(!active(y)) ||
      sevRank(x.severity) - sevRank(y.severity) || y.timestamp.localeCompare(x.timestamp));
  const out: HTMLElement[] = [];
  for (const a of rows) {
    const open = ui.expanded.has(a.id);
    const evidence = flattenEvidence(a.evidence ?? {});
    const status = ui.statusOverride.get(a.id) ?? a.status;
    out.push(h("tr", {
      class: `anomaly sevrow-${sevClass(a.severity)}${open ? " open" : ""}${active(a) ? "" : " closed"}${status === "acknowledged" ? " acked" : ""}`,
      "data-id": a.id,
      "aria-expanded": String(open),
      tabindex: 0,
      onclick: () => ui.onToggle(a.id),
      onkeydown: (e: Event) => {
        const k = (e as KeyboardEvent).key;
        if (k === "Enter" || k === " ") { e.preventDefault(); ui.onToggle(a.id); }
      },
    },
      h("td", { class: "col-sev" }, h("span", { class: "caret", "aria-hidden": "true" }, open ? "▾" : "▸"), sevBadge(a.severity)),
      h("td", { class: "col-type nowrap" }, humanize(a.type)),
      h("td", { class: "col-desc" }, h("div", { class: "title" }, a.title), h("div", { class: "desc" }, a.description)),
      h("td", { class: "col-user" }, a.user
        ? h("span", { class: "pivot-link", tabindex: 0, "data-pivot": `user:${a.user}` }, a.user)
        : h("span", { class: "muted" }, "—")),
      h("td", { class: "col-ip nowrap" }, a.sourceIp
        ? h("span", { class: "pivot-link", tabindex: 0, "data-pivot": `ip:${a.sourceIp}` }, mono(a.sourceIp))
        : mono(a.sourceIp)),
      h("td", { class: "col-conf" }, confidenceBar(a.confidence)),
      h("td", { class: "col-time nowrap muted" }, time(a.timestamp)),
      statusCell(a, ui)));
    if (open) {
      out.push(h("tr", { class: "evidence-row", "data-for": a.id },
        h("td", { colspan: 8 },
          h("div", { class: "evidence" },
            h("div", { class: "ev-meta" },
              h("span", null, "Alert ", h("span", { class: "mono" }, a.id)),
              a.service ? h("span", null, "Service ", h("b", null, a.service)) : null,
              a.namespace ? h("span", null, "Namespace ", h("b", null, a.namespace)) : null),
            evidence.length
              ? h("dl", null, evidence.map(evidenceItem))
              : h("p", { class: "muted" }, "No evidence recorded.")))));
    }
  }
  tbody.replaceChildren(...(out.length ? out : [emptyRow(8, ui.filter === "all" ? "No anomalies in this window." : `No ${ui.filter} anomalies in this window.`)]));
  return rows.length;
}

// ---------- Attackers ----------

export function renderAttackers(tbody: HTMLElement, attackers: Attacker[]): void {
  tbody.replaceChildren(...(attackers.length
    ? attackers.map((a) => h("tr", { class: "pivotable", tabindex: 0, "data-pivot": `ip:${a.sourceIp}`, title: `Raw lines and items of ${a.sourceIp}` },
      h("td", { class: "c-ip" }, mono(a.sourceIp)),
      h("td", { class: "c-country ellipsis", title: a.country }, countryName(a.country)),
      h("td", { class: "c-attacks num" }, fmtNum(a.attacks)),
      h("td", { class: "c-svc num" }, fmtNum(a.servicesTargeted)),
      h("td", { class: "c-sev" }, sevBadge(a.severity)),
      h("td", { class: "c-status" }, h("span", { class: `status st-${a.status === "active" || a.status === "blocked" ? a.status : "inactive"}` }, humanize(a.status)))))
    : [emptyRow(6, "No hostile sources in this window.")]));
}

// ---------- IAM changes ----------

export function renderIam(tbody: HTMLElement, items: IamChange[]): number {
  let off = 0;
  tbody.replaceChildren(...(items.length
    ? items.map((c) => {
      const o = isOffHours(c.timestamp);
      if (o) off++;
      return h("tr", { class: o ? "offhours" : "" },
        h("td", { class: "c-time nowrap" }, time(c.timestamp),
          o ? h("span", { class: "badge off", title: "Outside 08:00–18:00 UTC Mon–Fri" }, "off hours") : null),
        h("td", { class: "c-by ellipsis", title: c.changedBy },
          h("span", { class: "pivot-link", tabindex: 0, "data-pivot": `user:${c.changedBy}` }, c.changedBy)),
        h("td", { class: "c-act nowrap" }, h("span", { class: `iam-act act-${/^[a-z_]+$/.test(c.action) ? c.action : "other"}` }, humanize(c.action))),
        h("td", { class: "c-res ellipsis mono", title: c.resource }, c.resource),
        h("td", { class: "c-svc ellipsis", title: c.service }, c.service));
    })
    : [emptyRow(5, "No IAM changes in this window.")]));
  return off;
}

// ---------- Countries (from logs' geo) ----------

export function renderCountries(tbody: HTMLElement, logs: Log[]): { withGeo: number; total: number } {
  const by = new Map<string, { events: number; failed: number; ips: Set<string> }>();
  let withGeo = 0;
  for (const l of logs) {
    if (!l.geo) continue;
    withGeo++;
    const key = /^[a-z]{2}$/i.test(l.geo) ? l.geo.toUpperCase() : l.geo;
    const c = by.get(key) ?? { events: 0, failed: 0, ips: new Set<string>() };
    c.events++;
    if (l.type === "login_failure") c.failed++;
    if (l.sourceIp && l.sourceIp !== "unknown") c.ips.add(l.sourceIp);
    by.set(key, c);
  }
  const rows = [...by.entries()].sort((a, b) => b[1].events - a[1].events || a[0].localeCompare(b[0]));
  const max = rows[0]?.[1].events ?? 1;
  tbody.replaceChildren(...(rows.length
    ? rows.map(([code, c]) => {
      const bar = h("span", { class: "share-fill" });
      bar.style.width = `${Math.max(2, Math.round((c.events / max) * 100))}%`;
      const name = countryName(code);
      return h("tr", null,
        h("td", { class: "ellipsis", title: code }, name, name !== code ? h("span", { class: "cc" }, code) : null),
        h("td", { class: "num" }, fmtNum(c.events)),
        h("td", { class: `num${c.failed ? " warn" : " muted"}` }, fmtNum(c.failed)),
        h("td", { class: "num" }, fmtNum(c.ips.size)),
        h("td", { class: "col-share" }, h("span", { class: "share" }, bar)));
    })
    : [emptyRow(5, logs.length ? "No geo data on these events (Free plans omit enrichment)." : "No events in this window.")]));
  return { withGeo, total: logs.length };
}

// ---------- Live stream ----------

export interface StreamItem {
  key: string;
  /** What a click on the item drills into (`ip:…`, else `user:…`), if anything. */
  pivot: string | null;
  ts: string;
  kind: "log" | "anomaly";
  level: string; // css tone
  label: string;
  text: string;
  who: string;
  where: string;
}

export function streamItems(d: MockData): StreamItem[] {
  const items: StreamItem[] = [];
  for (const l of d.logs) {
    const who = [l.user, l.sourceIp !== "unknown" ? l.sourceIp : null].filter(Boolean).join(" · ");
    const extra = [l.action ? humanize(l.action) : null, l._metadata.status_code ? String(l._metadata.status_code) : null]
      .filter(Boolean).join(" · ");
    items.push({
      key: `l:${l.id}`,
      pivot: l.sourceIp && l.sourceIp !== "unknown" ? `ip:${l.sourceIp}` : l.user ? `user:${l.user}` : null,
      ts: l.timestamp, kind: "log", level: `lvl-${levelClass(String(l._metadata.severity))}`,
      label: String(l._metadata.severity), text: humanize(l.type) + (extra ? ` — ${extra}` : ""),
      who, where: `${l._metadata.service} / ${l._metadata.namespace}`,
    });
  }
  for (const a of d.anomalies) {
    items.push({
      key: `a:${a.id}`, pivot: a.sourceIp ? `ip:${a.sourceIp}` : a.user ? `user:${a.user}` : null,
      ts: a.timestamp, kind: "anomaly", level: `sev-${sevClass(a.severity)}`,
      label: a.severity, text: a.title, who: [a.user, a.sourceIp].filter(Boolean).join(" · "),
      where: [a.service, a.namespace].filter(Boolean).join(" / "),
    });
  }
  const t = (s: string) => new Date(s).getTime() || 0;
  items.sort((x, y) => t(y.ts) - t(x.ts) || x.key.localeCompare(y.key));
  return items.slice(0, 50);
}

export function renderStream(el: HTMLElement, items: StreamItem[], fresh: Set<string>): void {
  el.replaceChildren(...(items.length
    ? items.map((i) => h("li", { class: `ev ev-${i.kind}${fresh.has(i.key) ? " fresh" : ""}${i.pivot ? " pivotable" : ""}`,
      "data-key": i.key, "data-pivot": i.pivot, tabindex: i.pivot ? 0 : null },
      h("time", { datetime: i.ts, title: i.ts }, fmtClock(i.ts)),
      h("span", { class: `tag ${i.level}` }, i.label),
      h("span", { class: "ev-body" },
        h("span", { class: "ev-text" }, i.kind === "anomaly" ? h("span", { class: "ev-kind" }, "Alert") : null, i.text),
        h("span", { class: "ev-sub" }, [i.who, i.where].filter(Boolean).join("  ·  ")))))
    : [h("li", { class: "empty" }, "Waiting for events…")]));
}
