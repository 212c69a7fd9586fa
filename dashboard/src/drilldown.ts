// Drill-down (docs/dashboard.md §8): an attacker, an anomaly's IP or user, an IAM change's
// author or a stream item opens a side panel with the window's items behind it and the raw
// lines as received (GET /logs, docs/api.md §5.12), and pivots to the IP, user or service it
// shows. The pivot is kept in the URL (#pivot=ip:203.0.113.5), so a link opens the same panel.
import { ApiError, fetchLines } from "./api";
import { byId, h } from "./dom";
import { fmtDateTime, humanize } from "./format";
import type { Log } from "./types";

export type PivotKind = "ip" | "user" | "service";
export interface Pivot {
  kind: PivotKind;
  value: string;
}

interface LogLine {
  id: string;
  timestamp: string;
  type: string;
  level: string;
  service: string;
  namespace: string;
  source_ip: string | null;
  user: string | null;
  parser: string | null;
  message: string;
}

interface LinePage {
  success: boolean;
  data: LogLine[];
  pagination: { has_more: boolean; next_cursor: string | null };
}

const PARAM: Record<PivotKind, string> = { ip: "source_ip", user: "user", service: "service" };
const LABEL: Record<PivotKind, string> = { ip: "IP", user: "User", service: "Service" };

/** The window's items (the last dashboard read), searched for the pivot's. */
let items: Log[] = [];
let current: Pivot | null = null;
let cursor: string | null = null;
/** Filters the whole page by the pivot (an IP, a user, or a service: the header's picker). */
let filterPage: (p: Pivot) => void = () => {};

export function setItems(logs: Log[]): void {
  items = logs;
  if (current) renderItems(current);
}

export function onFilterPage(f: (p: Pivot) => void): void {
  filterPage = f;
}

/** `ip:203.0.113.5` → a pivot; anything else → null. */
export function parsePivot(text: string | null | undefined): Pivot | null {
  const m = /^(ip|user|service):(.+)$/s.exec(text ?? "");
  return m ? { kind: m[1] as PivotKind, value: m[2] } : null;
}

/** The pivot the URL names, if any. */
export function pivotFromUrl(): Pivot | null {
  const m = /^#pivot=(.*)$/.exec(location.hash);
  if (!m) return null;
  try {
    return parsePivot(decodeURIComponent(m[1]));
  } catch {
    return null;
  }
}

function matches(p: Pivot, l: Log): boolean {
  if (p.kind === "ip") return l.sourceIp === p.value;
  if (p.kind === "user") return l.user === p.value;
  return l._metadata.service === p.value;
}

function renderItems(p: Pivot): void {
  const mine = items.filter((l) => matches(p, l));
  byId("drill-items").replaceChildren(...(mine.length
    ? mine.slice(0, 100).map((l) => h("li", null,
      h("time", { datetime: l.timestamp }, fmtDateTime(l.timestamp)),
      h("span", { class: "drill-type" }, humanize(l.type)),
      h("span", { class: "drill-sub" }, [l.user, l.sourceIp !== "unknown" ? l.sourceIp : null, l._metadata.service].filter(Boolean).join(" · "))))
    : [h("li", { class: "muted" }, "Nothing in this window.")]));
  // Pivots: the other subjects these items name.
  const seen = new Map<string, Pivot>();
  const add = (kind: PivotKind, value: string | undefined) => {
    if (!value || value === "unknown" || (kind === p.kind && value === p.value)) return;
    if (seen.size < 12) seen.set(`${kind}:${value}`, { kind, value });
  };
  for (const l of mine) {
    add("ip", l.sourceIp);
    add("user", l.user);
    add("service", l._metadata.service);
  }
  const chips = [...seen.values()].map((q) => h("button", {
    type: "button", class: "chip", "data-pivot": `${q.kind}:${q.value}`,
    onclick: () => void openPivot(q),
  }, `${LABEL[q.kind]}: ${q.value}`));
  chips.unshift(h("button", { type: "button", class: "btn small", id: "drill-filter", onclick: () => filterPage(p) },
    `Filter the page by this ${p.kind === "ip" ? "IP" : p.kind}`));
  byId("drill-pivots").replaceChildren(...chips);
}

async function loadLines(p: Pivot, more: boolean): Promise<void> {
  const list = byId("drill-lines");
  const params = new URLSearchParams({ [PARAM[p.kind]]: p.value, limit: "50" });
  if (more && cursor) params.set("cursor", cursor);
  const note = byId("drill-note");
  try {
    const page = (await fetchLines(params)) as LinePage;
    if (current !== p) return; // another pivot opened meanwhile
    const rows = page.data.map((l) => h("li", { "data-id": l.id },
      h("time", { datetime: l.timestamp }, fmtDateTime(l.timestamp)),
      h("span", { class: "drill-type" }, humanize(l.type)),
      l.parser ? h("span", { class: "drill-parser" }, l.parser) : null,
      h("code", { class: "drill-line", title: l.message }, l.message)));
    if (more) list.append(...rows);
    else list.replaceChildren(...(rows.length ? rows : [h("li", { class: "muted" }, "No raw lines in the retention window.")]));
    cursor = page.pagination.next_cursor;
    byId("drill-more").hidden = !page.pagination.has_more;
    note.textContent = "";
  } catch (err) {
    note.textContent = err instanceof ApiError ? `${err.status}: ${err.message}` : `Could not read the raw lines: ${(err as Error).message}`;
  }
}

/** Opens the panel on `p`, keeping it in the URL. */
export async function openPivot(p: Pivot): Promise<void> {
  current = p;
  cursor = null;
  const panel = byId("drill");
  panel.hidden = false;
  byId("drill-title").textContent = `${LABEL[p.kind]} ${p.value}`;
  history.replaceState(null, "", `#pivot=${encodeURIComponent(`${p.kind}:${p.value}`)}`);
  renderItems(p);
  byId("drill-lines").replaceChildren(h("li", { class: "muted" }, "Loading…"));
  await loadLines(p, false);
}

export function closePivot(): void {
  current = null;
  byId("drill").hidden = true;
  history.replaceState(null, "", location.pathname + location.search);
}

/** Wires the panel and the page: any element with `data-pivot` opens it (click or Enter). */
export function initDrilldown(): void {
  byId("drill-close").addEventListener("click", closePivot);
  byId("drill-more").addEventListener("click", () => {
    if (current) void loadLines(current, true);
  });
  const open = (e: Event) => {
    const el = (e.target as Element | null)?.closest("[data-pivot]");
    if (!el || el.closest("#drill")) return;
    const p = parsePivot(el.getAttribute("data-pivot"));
    if (!p) return;
    e.stopPropagation();
    void openPivot(p);
  };
  document.addEventListener("click", open, true);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && current) closePivot();
    if (e.key === "Enter") open(e);
  }, true);
}
