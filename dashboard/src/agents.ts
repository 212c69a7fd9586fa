// The "Agents" card: the organisation's litesoc-agent hosts (GET /agents), each with its state
// (online: a heartbeat within `stale_after_seconds`, 360 s; stale otherwise), address, version,
// when it was last and first seen, and on demand the last lines it read. Read once per page
// refresh (the 30 s poll of main.ts). The lines are attacker-influenced: like everything here
// they only reach the DOM as text (dom.ts).
import { fetchAgents } from "./api";
import { message } from "./controls";
import { byId, h } from "./dom";
import { fmtDateTime, fmtStamp, humanize } from "./format";
import type { Agent, AgentList } from "./types";

const el = {
  meta: byId("agents-meta"),
  sub: byId("agents-sub"),
  body: byId("agents").querySelector("tbody")!,
};
const COLS = 7;

let agents: Agent[] = [];
let staleAfter = 360;
/** Hostnames whose recent lines are open; kept across refreshes. */
const expanded = new Set<string>();
let reading: AbortController | null = null;

/** "42 s ago", "12 min ago", "3 h ago", "2 days ago". */
function agoText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** "6 minutes" for 360 s. */
function span(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} minute${seconds === 60 ? "" : "s"}` : `${seconds} seconds`;
}

function sinceSeen(a: Agent): number {
  if (Number.isFinite(a.seconds_since_seen)) return a.seconds_since_seen;
  const t = Date.parse(a.last_seen);
  return Number.isNaN(t) ? NaN : (Date.now() - t) / 1000;
}

const RULE = "the agent beats every minute when active and every 5 minutes when idle, plus a minute's grace";

function stateBadge(a: Agent) {
  const ago = sinceSeen(a);
  const when = `${fmtStamp(a.last_seen)}${Number.isFinite(ago) ? `, ${agoText(ago)}` : ""}`;
  const title = a.status === "online"
    ? `Last heartbeat ${when}. Online: a heartbeat within the last ${span(staleAfter)} (${RULE}).`
    : a.status === "stale"
      ? `No heartbeat since ${when}. Stale: none for more than ${span(staleAfter)} (${RULE}).`
      : `Last heartbeat ${when}.`;
  const cls = a.status === "online" || a.status === "stale" ? a.status : "other";
  return h("span", { class: `agent-state agent-${cls}`, title }, humanize(String(a.status)));
}

const dash = () => h("span", { class: "muted", title: "Not reported by the agent" }, "—");
const time = (iso: string, text: string, title = fmtStamp(iso)) => h("time", { datetime: iso, title }, text);

function row(a: Agent, i: number): HTMLTableRowElement[] {
  const lines = Array.isArray(a.recent_logs) ? a.recent_logs.map(String) : [];
  const open = lines.length > 0 && expanded.has(a.hostname);
  const id = `agent-lines-${i}`;
  const ago = sinceSeen(a);
  const toggle = h("button", {
    type: "button", class: "btn small ghost agent-toggle", "aria-expanded": String(open), "aria-controls": open ? id : null,
    disabled: lines.length === 0,
    title: lines.length ? `The last ${lines.length} line${lines.length === 1 ? "" : "s"} this agent read` : "The agent reported no lines",
    onclick: () => {
      if (expanded.has(a.hostname)) expanded.delete(a.hostname);
      else expanded.add(a.hostname);
      render(a.hostname);
    },
  }, lines.length ? `${open ? "Hide" : "Show"} ${lines.length} line${lines.length === 1 ? "" : "s"}` : "No lines");
  const out = [h("tr", { class: `agent${a.status === "stale" ? " is-stale" : ""}${open ? " open" : ""}`, "data-hostname": a.hostname },
    h("td", { class: "c-host" }, a.hostname),
    h("td", { class: "c-state" }, stateBadge(a)),
    h("td", { class: "c-ip mono" }, a.ip_address ?? dash()),
    h("td", { class: "c-ver mono" }, a.agent_version ?? dash()),
    h("td", { class: "c-last nowrap" }, time(a.last_seen, Number.isFinite(ago) ? agoText(ago) : fmtDateTime(a.last_seen))),
    h("td", { class: "c-first nowrap muted" }, time(a.first_seen, fmtDateTime(a.first_seen))),
    h("td", { class: "col-act c-toggle" }, toggle))];
  if (open) {
    out.push(h("tr", { class: "agent-lines-row", id },
      h("td", { colspan: COLS },
        h("div", { class: "agent-lines-head" },
          `Last ${lines.length} line${lines.length === 1 ? "" : "s"} read by `, h("b", null, a.hostname), ", as received",
          Number.isFinite(a.heartbeats) ? h("span", { class: "muted" }, ` · ${a.heartbeats.toLocaleString("en-US")} heartbeats`) : null),
        h("ol", { class: "agent-lines" }, lines.map((l) => h("li", null, h("code", null, l)))))));
  }
  return out;
}

function emptyRow(...content: (Node | string)[]) {
  return h("tr", { class: "empty" }, h("td", { colspan: COLS }, ...content));
}

function render(focusHost?: string): void {
  const after = staleAfter % 60 === 0 ? `${staleAfter / 60} min` : `${staleAfter} s`;
  el.sub.textContent = `litesoc-agent hosts · stale after ${after} without a heartbeat`;
  el.body.replaceChildren(...(agents.length
    ? agents.flatMap(row)
    : [emptyRow("No agent has reported yet. Install the litesoc-agent with this Worker's URL (",
      h("code", null, location.origin), ") as its API endpoint and an ingest-only key.")]));
  if (focusHost != null) {
    const tr = [...el.body.querySelectorAll<HTMLElement>("tr.agent")].find((r) => r.dataset.hostname === focusHost);
    tr?.querySelector<HTMLButtonElement>(".agent-toggle")?.focus();
  }
}

function summary(total: number, shown: number): void {
  const stale = agents.filter((a) => a.status === "stale").length;
  el.meta.replaceChildren(
    `${total.toLocaleString("en-US")} agent${total === 1 ? "" : "s"}`,
    shown < total ? ` · ${shown} shown` : "",
    total ? " · " : "",
    stale ? h("span", { class: "agents-stale" }, `${stale} stale`) : total ? "all online" : "");
}

/** Reads GET /agents (one request; a newer call cancels an older one still in flight) and redraws the card. */
export async function loadAgents(): Promise<void> {
  reading?.abort();
  const ctl = new AbortController();
  reading = ctl;
  try {
    const body = (await fetchAgents(ctl.signal)) as AgentList;
    if (!Array.isArray(body?.data)) throw new Error("the answer holds no agent list");
    if (ctl.signal.aborted) return;
    agents = body.data;
    staleAfter = Number.isFinite(body.stale_after_seconds) && body.stale_after_seconds! > 0 ? body.stale_after_seconds! : 360;
    const focused = document.activeElement instanceof HTMLElement && el.body.contains(document.activeElement)
      ? document.activeElement.closest<HTMLElement>("tr.agent")?.dataset.hostname : undefined;
    render(focused);
    summary(Math.max(body.pagination?.total ?? agents.length, agents.length), agents.length);
  } catch (err) {
    if (ctl.signal.aborted || (err as Error).name === "AbortError") return;
    agents = [];
    el.meta.replaceChildren();
    el.body.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: COLS, class: "agents-error" },
      `Could not read the agents: ${message(err)}`)));
  } finally {
    if (reading === ctl) reading = null;
  }
}
