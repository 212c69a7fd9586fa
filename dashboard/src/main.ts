import "./style.css";
import { ApiError, dropSession, eventsThisMonth, fetchMockData, hasKeyChoice, patchAlert, plan, restoreSession, retentionDays, session, signIn, signOut, usePublicOrg } from "./api";
import type { AlertAction, Query } from "./api";
import { initDrilldown, onFilterPage, openPivot, pivotFromUrl, setItems } from "./drilldown";
import { attackersOption, Chart, donutOption, heatmapOption, sankeyHeight, sankeyOption, timelineOption } from "./charts";
import { scopeText } from "./controls";
import { loadAgents } from "./agents";
import { loadDestinations } from "./destinations";
import { byId, h } from "./dom";
import { fmtAgo, fmtClock, fmtDateTime, fmtNum, parseTime } from "./format";
import { openMarkSafe } from "./marksafe";
import { loadSettings } from "./settings";
import { loadSuppressed } from "./suppressed";
import { loadSuppressions } from "./suppressions";
import type { Alert, Anomaly, MockData } from "./types";
import {
  renderAnomalies, renderAttackers, renderCountries, renderIam, renderKpiPlaceholders, renderKpis, renderSevFilter, renderStream,
  renderThreatLegend, streamItems,
} from "./widgets";
import type { AnomalyUi, StreamItem } from "./widgets";

const REFRESH_MS = 30_000;
const WINDOWS = [1, 24, 168];

// ---------- state ----------

const params = new URLSearchParams(location.search);
const query: Query = {
  hours: WINDOWS.includes(Number(params.get("hours"))) ? Number(params.get("hours")) : 24,
  service: params.get("service") ?? "",
  namespace: params.get("namespace") ?? "",
  start: isoParam(params.get("start")),
  end: params.get("start") ? isoParam(params.get("end")) : "",
  closed: params.get("closed") === "1",
  ip: params.get("ip") ?? "",
  user: params.get("user") ?? "",
};

/** A time from the address: kept when it parses, "" otherwise. */
function isoParam(v: string | null): string {
  return v && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : "";
}
let data: MockData | null = null;
let loading: AbortController | null = null;
let lastLoadedAt: Date | null = null;
let configLoaded = false;
const seen = { service: new Set<string>(), namespace: new Set<string>() };

const stream = { paused: false, shown: new Set<string>(), pending: 0 };

const anomalyUi: AnomalyUi = {
  filter: "all",
  expanded: new Set(),
  pending: new Set(),
  errors: new Map(),
  statusOverride: new Map(),
  readOnly: null,
  upgrade: false,
  onToggle(id) {
    if (this.expanded.has(id)) this.expanded.delete(id);
    else this.expanded.add(id);
    drawAnomalies();
  },
  onFilter(sev) {
    this.filter = sev;
    drawAnomalies();
  },
  onAction(a, action) {
    if (action === "suppress") openMarkSafe(a, (alert) => suppressed(a, alert));
    else void act(a, action);
  },
};

// ---------- elements ----------

const el = {
  hours: byId("f-hours"),
  rangeBtn: byId<HTMLButtonElement>("range-btn"),
  rangeForm: byId<HTMLFormElement>("range-form"),
  rangeStart: byId<HTMLInputElement>("range-start"),
  rangeEnd: byId<HTMLInputElement>("range-end"),
  rangeNote: byId("range-note"),
  closed: byId<HTMLButtonElement>("closed-toggle"),
  pivots: byId("f-pivots"),
  service: byId<HTMLSelectElement>("f-service"),
  namespace: byId<HTMLSelectElement>("f-namespace"),
  refresh: byId<HTMLButtonElement>("refresh"),
  updated: byId("updated"),
  dot: byId("status-dot"),
  keyBtn: byId<HTMLButtonElement>("key-btn"),
  banner: byId("banner"),
  bannerText: byId("banner-text"),
  kpis: byId("kpis"),
  dialog: byId<HTMLDialogElement>("key-dialog"),
  keyForm: byId<HTMLFormElement>("key-form"),
  keyInput: byId<HTMLInputElement>("key-input"),
  keyError: byId("key-error"),
  streamToggle: byId<HTMLButtonElement>("stream-toggle"),
};

const narrow = () => window.matchMedia("(max-width: 640px)").matches;

const charts = {
  timeline: new Chart(byId("chart-timeline")),
  threats: new Chart(byId("chart-threats")),
  attackers: new Chart(byId("chart-attackers")),
  flow: new Chart(byId("chart-flow")),
  heatmap: new Chart(byId("chart-heatmap")),
};
// Read-only handle for the browser test (tooltip escaping checks); holds no secrets.
(window as unknown as { __edgesoc: unknown }).__edgesoc = { charts: Object.fromEntries(Object.entries(charts).map(([k, c]) => [k, c.instance])) };

// ---------- header ----------

function syncHeader(): void {
  for (const b of el.hours.querySelectorAll<HTMLButtonElement>("button")) {
    const on = b === el.rangeBtn ? Boolean(query.start) : !query.start && Number(b.dataset.hours) === query.hours;
    b.classList.toggle("on", on);
    b.setAttribute("aria-pressed", String(on));
  }
  el.rangeBtn.textContent = query.start
    ? `${fmtDateTime(query.start)} → ${query.end ? fmtDateTime(query.end) : "now"}`
    : "Custom";
  el.closed.setAttribute("aria-pressed", String(query.closed));
  el.closed.classList.toggle("on", query.closed);
  fillPicker(el.service, seen.service, query.service, "All services");
  fillPicker(el.namespace, seen.namespace, query.namespace, "All namespaces");
  const p = new URLSearchParams();
  if (query.start) {
    p.set("start", query.start);
    if (query.end) p.set("end", query.end);
  } else if (query.hours !== 24) p.set("hours", String(query.hours));
  if (query.service) p.set("service", query.service);
  if (query.namespace) p.set("namespace", query.namespace);
  if (query.ip) p.set("ip", query.ip);
  if (query.user) p.set("user", query.user);
  if (query.closed) p.set("closed", "1");
  // The page's pivots, each a chip that removes it.
  const chip = (label: string, value: string, clear: () => void) =>
    h("button", { type: "button", class: "chip on page-pivot", title: "Remove this filter", onclick: () => { clear(); filterChanged(); } },
      `${label}: ${value} ✕`);
  el.pivots.replaceChildren(
    ...(query.ip ? [chip("IP", query.ip, () => (query.ip = ""))] : []),
    ...(query.user ? [chip("User", query.user, () => (query.user = ""))] : []),
  );
  const qs = p.toString();
  // The drill-down's pivot (#pivot=…) stays in the URL with the filters.
  history.replaceState(null, "", (qs ? `?${qs}` : location.pathname) + location.hash);
}

function fillPicker(sel: HTMLSelectElement, values: Set<string>, current: string, allLabel: string): void {
  const all = [...values];
  if (current && !values.has(current)) all.push(current);
  all.sort((a, b) => a.localeCompare(b));
  const want = ["", ...all];
  const have = [...sel.options].map((o) => o.value);
  if (want.join("\u0000") !== have.join("\u0000")) {
    sel.replaceChildren(...want.map((v) => h("option", { value: v }, v === "" ? allLabel : v)));
  }
  sel.value = current;
}

function collectPickerValues(d: MockData): void {
  const add = (set: Set<string>, v: unknown) => {
    if (typeof v === "string" && v) set.add(v);
  };
  for (const l of d.logs) {
    add(seen.service, l._metadata?.service);
    add(seen.namespace, l._metadata?.namespace);
  }
  for (const a of d.anomalies) {
    add(seen.service, a.service);
    add(seen.namespace, a.namespace);
  }
  for (const c of d.iamChanges) add(seen.service, c.service);
  for (const n of d.networkFlow.sankeyData.nodes) if (n.layer === "device") add(seen.service, n.name);
}

function setStatus(kind: "ok" | "loading" | "error"): void {
  el.dot.className = `dot ${kind}`;
  el.refresh.classList.toggle("spin", kind === "loading");
}

function tickUpdated(): void {
  if (!data) return;
  const upd = parseTime(data.lastUpdated);
  el.updated.replaceChildren(
    h("span", { class: "upd-label" }, "Updated "),
    upd ? `${fmtClock(data.lastUpdated)} UTC` : "",
    lastLoadedAt ? ` · ${fmtAgo(lastLoadedAt)}` : "",
  );
  el.updated.title = `Window ${data.timeRange.start} → ${data.timeRange.end}`;
}

function showBanner(msg: string | null, tone: "error" | "info" = "error"): void {
  el.banner.hidden = msg == null;
  el.banner.className = `banner ${tone}`;
  el.bannerText.textContent = msg ?? "";
}

// ---------- key prompt ----------

function askKey(error?: string): void {
  el.keyError.hidden = !error;
  el.keyError.textContent = error ?? "";
  el.keyInput.value = "";
  if (!el.dialog.open) el.dialog.showModal();
  el.keyInput.focus();
}

el.keyForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const key = el.keyInput.value.trim();
  el.keyInput.value = ""; // the key leaves the page with this one request
  if (!key) {
    el.keyError.hidden = false;
    el.keyError.textContent = "Enter a key, or continue without one.";
    return;
  }
  void (async () => {
    try {
      await signIn(key);
    } catch (err) {
      askKey(err instanceof ApiError ? err.message : `Could not reach the API: ${(err as Error).message}`);
      return;
    }
    configLoaded = false; // another session may be another organisation: reload its configuration cards
    syncSignedIn();
    el.dialog.close();
    void load();
  })();
});
byId("key-nokey").addEventListener("click", () => {
  usePublicOrg();
  configLoaded = false;
  syncSignedIn();
  el.dialog.close();
  void load();
});
el.dialog.addEventListener("cancel", (e) => {
  if (!hasKeyChoice()) e.preventDefault(); // nothing to show without a sign-in choice
});
el.keyBtn.addEventListener("click", () => {
  void (async () => {
    await signOut();
    syncSignedIn();
    askKey();
  })();
});

/** The header's sign-out button names who is signed in. */
function syncSignedIn(): void {
  // A viewer (or the public organisation) reads only: no action the API would refuse is offered.
  // On Free, alerts are raised and shown; acting on them is a Pro feature (docs/api.md §3.1),
  // so the page says so instead of offering buttons the API answers with 403.
  anomalyUi.upgrade = plan === "free";
  anomalyUi.readOnly = plan === "free" ? "Acknowledge, resolve and mark safe need the Pro plan"
    : session?.scopes.includes("respond") ? null
    : session ? `Read-only: your role is ${session.role}` : "Read-only: not signed in";
  el.keyBtn.textContent = session ? "Sign out" : "Sign in";
  el.keyBtn.title = session ? `Signed in as ${session.actor} (${session.role}) to ${session.organization.name}` : "Sign in with an API key";
}

// ---------- loading ----------

async function load(): Promise<void> {
  if (!hasKeyChoice()) {
    askKey();
    return;
  }
  loading?.abort();
  const ctl = new AbortController();
  loading = ctl;
  setStatus("loading");
  try {
    const d = await fetchMockData(query, ctl.signal);
    if (ctl.signal.aborted) return;
    data = d;
    lastLoadedAt = new Date();
    // drop local status overrides once the server agrees
    for (const a of d.anomalies) if (anomalyUi.statusOverride.get(a.id) === a.status) anomalyUi.statusOverride.delete(a.id);
    collectPickerValues(d);
    syncHeader();
    syncSignedIn();
    render(d);
    void showFirstRun(d);
    if (!pivotOpened) {
      pivotOpened = true;
      const pivot = pivotFromUrl();
      if (pivot) void openPivot(pivot);
    }
    setStatus("ok");
    showBanner(null);
    const held = query.start && Date.parse(d.timeRange.start) > Math.floor(Date.parse(query.start) / 3_600_000) * 3_600_000;
    if (held) showBanner(`The range starts at ${fmtDateTime(d.timeRange.start)} UTC: this plan keeps ${retentionDays ?? "a limited number of"} days (a range is at most 90 days).`, "info");
    if (!configLoaded) {
      configLoaded = true;
      void loadDestinations();
      void loadSuppressions();
      void loadSettings();
    }
    void loadSuppressed(d.timeRange.start);
    void loadAgents();
  } catch (err) {
    if (ctl.signal.aborted || (err as Error).name === "AbortError") return;
    setStatus("error");
    if (err instanceof ApiError && err.status === 401) {
      dropSession();
      syncSignedIn();
      askKey(err.message || "The session ended: sign in again.");
      showBanner(null);
      return;
    }
    const msg = err instanceof ApiError
      ? `${err.message}${err.retryAfter ? ` (retry in ${err.retryAfter}s)` : ""}`
      : `Could not reach the API: ${(err as Error).message}`;
    showBanner(`${msg}${data ? " — showing the last data received." : ""}`);
  } finally {
    if (loading === ctl) loading = null;
  }
}

// ---------- rendering ----------

/** Whether the URL's pivot was opened (once, after the first read). */
let pivotOpened = false;

function render(d: MockData): void {
  setItems(d.logs);
  const n = narrow();
  renderKpis(el.kpis, d, !query.closed, Boolean(query.start));

  charts.timeline.set(timelineOption(d.securityEventsTimeline, d.timeRange.hours, n));
  const peak = d.securityEventsTimeline.reduce((m, b) => Math.max(m, b.total), 0);
  byId("timeline-meta").textContent = `${d.securityEventsTimeline.length} buckets · peak ${fmtNum(peak)}/h`;

  byId("threats-sub").textContent = query.closed ? "all anomalies by severity, closed included" : "open anomalies by severity";
  byId("threats-unit").textContent = query.closed ? "anomalies" : "open";
  charts.threats.set(donutOption(d.threatDistribution));
  byId("threats-total").textContent = fmtNum(d.threatDistribution.reduce((s, x) => s + x.count, 0));
  renderThreatLegend(byId("threats-legend"), d.threatDistribution);

  drawAnomalies();

  charts.attackers.set(attackersOption(d.topAttackers));
  byId("chart-attackers").classList.toggle("is-empty", d.topAttackers.length === 0);
  renderAttackers(byId("attackers").querySelector("tbody")!, d.topAttackers);
  byId("attackers-meta").textContent = `${fmtNum(d.stats.attackSources)} sources`;

  const f = d.networkFlow;
  byId("chart-flow").style.height = `${sankeyHeight(f, n)}px`;
  charts.flow.set(sankeyOption(f, n));
  byId("chart-flow").classList.toggle("is-empty", f.sankeyData.links.length === 0);
  byId("flow-meta").textContent =
    `${fmtNum(f.totalEvents)} events · ${fmtNum(f.networkFlows)} flows · ${fmtNum(f.activeNodes)} nodes`;

  charts.heatmap.set(heatmapOption(d.attackPatternHeatmap, n));
  const hostile = d.attackPatternHeatmap.data.reduce((s, r) => s + r.reduce((a, b) => a + b, 0), 0);
  byId("heatmap-meta").textContent = `${fmtNum(hostile)} hostile · max ${fmtNum(d.attackPatternHeatmap.maxValue)}/cell`;
  byId("chart-heatmap").classList.toggle("is-empty", hostile === 0);

  const off = renderIam(byId("iam").querySelector("tbody")!, d.iamChanges);
  byId("iam-meta").textContent = `${d.iamChanges.length} shown${off ? ` · ${off} off hours` : ""}`;

  const geo = renderCountries(byId("countries").querySelector("tbody")!, d.logs);
  byId("geo-meta").textContent = `from the latest ${fmtNum(geo.total)} events`;

  drawStream(d);
  tickUpdated();
}

function drawAnomalies(): void {
  if (!data) return;
  const list = data.anomalies;
  renderSevFilter(byId("sev-filter"), list, anomalyUi);
  const shown = renderAnomalies(byId("anomalies").querySelector("tbody")!, list, anomalyUi);
  const statusOf = (a: Anomaly) => anomalyUi.statusOverride.get(a.id) ?? a.status;
  const open = list.filter((a) => statusOf(a) === "open").length;
  const acked = list.filter((a) => statusOf(a) === "acknowledged").length;
  byId("anomalies-meta").textContent =
    `${shown} shown · ${open} open${acked ? ` · ${acked} acknowledged` : ""} · ${fmtNum(data.stats.totalAnomalies)} in window`;
}

let streamLatest: StreamItem[] = [];
function drawStream(d: MockData | null = data): void {
  if (d) streamLatest = streamItems(d);
  if (stream.paused) {
    stream.pending = streamLatest.filter((i) => !stream.shown.has(i.key)).length;
    el.streamToggle.textContent = stream.pending ? `Resume · ${stream.pending} new` : "Resume";
    return;
  }
  const first = stream.shown.size === 0;
  const fresh = new Set(first ? [] : streamLatest.filter((i) => !stream.shown.has(i.key)).map((i) => i.key));
  renderStream(byId("stream"), streamLatest, fresh);
  for (const i of streamLatest) stream.shown.add(i.key);
  el.streamToggle.textContent = "Pause";
}

el.streamToggle.addEventListener("click", () => {
  stream.paused = !stream.paused;
  el.streamToggle.setAttribute("aria-pressed", String(stream.paused));
  byId("card-stream").classList.toggle("paused", stream.paused);
  drawStream(null);
});

// ---------- alert actions ----------

async function act(a: Anomaly, action: AlertAction): Promise<void> {
  anomalyUi.pending.add(a.id);
  anomalyUi.errors.delete(a.id);
  drawAnomalies();
  try {
    const status = await patchAlert(a.id, action);
    anomalyUi.statusOverride.set(a.id, status);
  } catch (err) {
    const msg = err instanceof ApiError ? `${err.status}: ${err.message}` : `Request failed: ${(err as Error).message}`;
    anomalyUi.errors.set(a.id, msg);
    if (err instanceof ApiError && err.status === 401) {
      dropSession();
      syncSignedIn();
      askKey(err.message);
    }
  } finally {
    anomalyUi.pending.delete(a.id);
    drawAnomalies();
  }
}

/** After "Mark safe & suppress": the row shows Safe, the banner names the new suppression. */
function suppressed(a: Anomaly, alert: Alert): void {
  anomalyUi.statusOverride.set(a.id, alert.status);
  anomalyUi.errors.delete(a.id);
  drawAnomalies();
  const s = alert.suppression;
  if (s) {
    showBanner(`Marked safe. Suppressing ${scopeText(s.scope, s.value)} ${s.expires_at ? `until ${fmtDateTime(s.expires_at)} UTC` : "until deleted"}.`, "info");
  }
  void loadSuppressions();
}

// ---------- events ----------

function filterChanged(): void {
  stream.shown.clear(); // a new selection is not "new events": do not flash the whole stream
  syncHeader();
  void load();
}
el.hours.addEventListener("click", (e) => {
  const b = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-hours]");
  if (!b || (!query.start && Number(b.dataset.hours) === query.hours)) return;
  query.hours = Number(b.dataset.hours);
  query.start = query.end = "";
  el.rangeForm.hidden = true;
  filterChanged();
});

// The custom range: datetime-local inputs read as UTC, no earlier than the plan keeps.
const localValue = (iso: string) => iso.slice(0, 16);
el.rangeBtn.addEventListener("click", () => {
  const open = el.rangeForm.hidden;
  el.rangeForm.hidden = !open;
  el.rangeBtn.setAttribute("aria-expanded", String(open));
  if (!open) return;
  const now = Date.now();
  const keep = (retentionDays ?? 7) * 86_400_000;
  el.rangeStart.min = el.rangeEnd.min = localValue(new Date(now - keep).toISOString());
  el.rangeStart.max = el.rangeEnd.max = localValue(new Date(now).toISOString());
  el.rangeStart.value = localValue(query.start || data?.timeRange.start || new Date(now - 86_400_000).toISOString());
  el.rangeEnd.value = query.end ? localValue(query.end) : "";
  el.rangeNote.textContent = `UTC · this plan keeps ${retentionDays ?? "?"} days`;
  el.rangeStart.focus();
});
el.rangeForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const asUtc = (v: string) => (v ? new Date(`${v}:00Z`).toISOString() : "");
  const start = asUtc(el.rangeStart.value);
  const end = asUtc(el.rangeEnd.value);
  if (!start) return;
  if (end && end <= start) {
    el.rangeNote.textContent = "The end must be after the start.";
    return;
  }
  query.start = start;
  query.end = end;
  el.rangeForm.hidden = true;
  el.rangeBtn.setAttribute("aria-expanded", "false");
  filterChanged();
});
byId("range-cancel").addEventListener("click", () => {
  el.rangeForm.hidden = true;
  el.rangeBtn.setAttribute("aria-expanded", "false");
});
el.closed.addEventListener("click", () => {
  query.closed = !query.closed;
  filterChanged();
});
el.service.addEventListener("change", () => {
  query.service = el.service.value;
  filterChanged();
});
el.namespace.addEventListener("change", () => {
  query.namespace = el.namespace.value;
  filterChanged();
});
el.refresh.addEventListener("click", () => void load());
initDrilldown();
onFilterPage((p) => {
  if (p.kind === "ip") query.ip = p.value;
  else if (p.kind === "user") query.user = p.value;
  else query.service = p.value;
  filterChanged();
});
byId("banner-close").addEventListener("click", () => showBanner(null));

/** The first-run panel: shown while the window is empty and nothing was sent this month, with
 *  copy-paste snippets for this Worker's own URL. */
async function showFirstRun(d: MockData): Promise<void> {
  const panel = byId("first-run");
  const empty = d.stats.totalEvents === 0 && d.anomalies.length === 0;
  let first = false;
  if (empty) {
    try {
      first = (await eventsThisMonth()) === 0;
    } catch {
      first = false;
    }
  }
  panel.hidden = !first;
  if (!first) return;
  const base = location.origin;
  byId("first-run-curl").textContent =
    `curl -X POST ${base}/collect \\\n  -H "X-API-Key: $LITESOC_API_KEY" -H "Content-Type: application/json" \\\n` +
    `  -d '{"event":"auth.login_failed","actor":{"id":"user_123","email":"user@example.com"},"user_ip":"203.0.113.50"}'`;
  byId("first-run-node").textContent =
    `import { LiteSOC } from "litesoc";\n\nconst litesoc = new LiteSOC({ apiKey: process.env.LITESOC_API_KEY, baseUrl: "${base}" });\n` +
    `await litesoc.track("auth.login_failed", {\n  actor: { id: "user_123", email: "user@example.com" },\n  userIp: "203.0.113.50",\n});`;
  byId("first-run-python").textContent =
    `import os\nfrom litesoc import LiteSOC\n\nlitesoc = LiteSOC(api_key=os.environ["LITESOC_API_KEY"], base_url="${base}")\n` +
    `litesoc.track("auth.login_failed", actor_id="user_123", actor_email="user@example.com", user_ip="203.0.113.50")`;
  byId("first-run-logs").textContent =
    `# Loki push (Promtail, Alloy, Vector, winston-loki, …): basic auth, the key as password\n` +
    `url: ${base}/loki/api/v1/push\n\n# OpenTelemetry logs (OTLP/HTTP): header Authorization: Bearer <key>\n` +
    `endpoint: ${base}/v1/logs\n\n# Auth0 log stream (custom webhook) and Supabase database webhook: an ingest-only key\n` +
    `${base}/webhooks/auth0?api_key=<key>\n${base}/webhooks/supabase?api_key=<key>\n\n` +
    `# litesoc-agent: its API endpoint\n${base}`;
}
// The banner sticks right below the sticky top bar, whose height varies as it wraps.
const topbar = document.querySelector<HTMLElement>(".topbar");
if (topbar) {
  new ResizeObserver(() => document.documentElement.style.setProperty("--topbar-h", `${topbar.offsetHeight}px`)).observe(topbar);
}
document.addEventListener("keydown", (e) => {
  if (e.key === "r" && !e.ctrlKey && !e.metaKey && !e.altKey && !el.dialog.open &&
    !(e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement)) void load();
});

let wasNarrow = narrow();
window.addEventListener("resize", () => {
  if (narrow() !== wasNarrow && data) {
    wasNarrow = narrow();
    render(data);
  }
});

setInterval(() => {
  if (!document.hidden && hasKeyChoice()) void load();
}, REFRESH_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && lastLoadedAt && Date.now() - lastLoadedAt.getTime() > REFRESH_MS) void load();
});
setInterval(tickUpdated, 5_000);

syncHeader();
renderKpiPlaceholders(el.kpis);
void (async () => {
  if (await restoreSession()) {
    syncSignedIn();
    void load();
  } else {
    syncSignedIn();
    askKey();
  }
})();
