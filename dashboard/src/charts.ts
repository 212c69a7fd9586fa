// ECharts, imported per chart type and component to keep the bundle small.
// ECharts tooltips render HTML: every tooltip here uses a formatter that escapes data with esc().
import * as echarts from "echarts/core";
import { BarChart, HeatmapChart, LineChart, PieChart, SankeyChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import type { EChartsCoreOption } from "echarts/core";
import { esc } from "./dom";
import { fmtDateTime, fmtHour, fmtNum, humanize, LEVEL_COLOR, SEV_COLOR, sevClass } from "./format";
import type { Attacker, Bucket, Heatmap, NetworkFlow } from "./types";

echarts.use([
  BarChart, HeatmapChart, LineChart, PieChart, SankeyChart,
  GridComponent, LegendComponent, TooltipComponent, VisualMapComponent,
  CanvasRenderer,
]);

const TEXT = "#cbd5e1";
const MUTED = "#8b9bb4";
const GRID_LINE = "#1e293b";
const FONT = "Inter, ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";

const tooltipBase = {
  className: "ec-tooltip",
  confine: true,
  backgroundColor: "#0f172a",
  borderColor: "#334155",
  borderWidth: 1,
  padding: [8, 10],
  textStyle: { color: "#e2e8f0", fontSize: 12, fontFamily: FONT },
  extraCssText: "box-shadow:0 8px 24px rgba(0,0,0,.45);border-radius:6px;",
};

/** One tooltip row: a colour dot, an escaped label and an escaped value. */
function row(color: string, label: unknown, value: unknown): string {
  return `<div style="display:flex;gap:12px;justify-content:space-between;align-items:center;line-height:1.6">` +
    `<span><span style="display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:6px;background:${esc(color)}"></span>${esc(label)}</span>` +
    `<b style="font-variant-numeric:tabular-nums">${esc(value)}</b></div>`;
}
const head = (s: unknown) => `<div style="font-weight:600;margin-bottom:4px;color:#f8fafc">${esc(s)}</div>`;

/** An ECharts instance bound to an element, resized with it. */
export class Chart {
  readonly instance: echarts.ECharts;
  constructor(readonly el: HTMLElement) {
    this.instance = echarts.init(el, "dark", { renderer: "canvas" });
    new ResizeObserver(() => this.instance.resize()).observe(el);
  }
  set(option: EChartsCoreOption): void {
    this.instance.setOption(
      { backgroundColor: "transparent", textStyle: { fontFamily: FONT }, animationDurationUpdate: 400, ...option },
      // merge into the previous option (same structure each time), so a refresh animates the
      // change instead of redrawing from zero every 30 s
      { notMerge: false },
    );
  }
}

const axisCommon = {
  axisLine: { lineStyle: { color: "#334155" } },
  axisTick: { show: false },
  axisLabel: { color: MUTED, fontSize: 11 },
  splitLine: { lineStyle: { color: GRID_LINE } },
};

export function timelineOption(buckets: Bucket[], hours: number, narrow: boolean): EChartsCoreOption {
  const withDay = hours > 48;
  const labels = buckets.map((b) => fmtHour(b.timestamp, withDay));
  const info = buckets.map((b) => Math.max(0, b.total - b.critical - b.warnings));
  const series = [
    { name: "Critical / error", color: LEVEL_COLOR.critical, data: buckets.map((b) => b.critical) },
    { name: "Warning", color: LEVEL_COLOR.warning, data: buckets.map((b) => b.warnings) },
    { name: "Info / debug", color: "#475569", data: info },
  ];
  const lines = [
    { name: "Failed logins", color: "#22d3ee", data: buckets.map((b) => b.failedLogins) },
    { name: "IAM changes", color: "#a78bfa", data: buckets.map((b) => b.iamChanges) },
  ];
  return {
    grid: { left: 8, right: 12, top: narrow ? 56 : 36, bottom: 4, containLabel: true },
    legend: {
      top: 0, left: 0, itemWidth: 10, itemHeight: 10, itemGap: narrow ? 8 : 16,
      textStyle: { color: TEXT, fontSize: 12 }, icon: "roundRect",
    },
    tooltip: {
      ...tooltipBase,
      trigger: "axis",
      axisPointer: { type: "shadow", shadowStyle: { color: "rgba(148,163,184,0.08)" } },
      formatter: (params: unknown) => {
        const ps = params as { dataIndex: number }[];
        const i = ps[0]?.dataIndex ?? 0;
        const b = buckets[i];
        if (!b) return "";
        return head(`${fmtDateTime(b.timestamp)} UTC`) +
          row("#e2e8f0", "Total events", fmtNum(b.total)) +
          row(LEVEL_COLOR.critical, "Critical / error", fmtNum(b.critical)) +
          row(LEVEL_COLOR.warning, "Warning", fmtNum(b.warnings)) +
          row("#475569", "Info / debug", fmtNum(info[i])) +
          row("#22d3ee", "Failed logins", fmtNum(b.failedLogins)) +
          row("#a78bfa", "IAM changes", fmtNum(b.iamChanges));
      },
    },
    xAxis: {
      type: "category", data: labels, ...axisCommon, splitLine: { show: false },
      axisLabel: { ...axisCommon.axisLabel, hideOverlap: true },
    },
    yAxis: { type: "value", minInterval: 1, ...axisCommon, axisLine: { show: false } },
    series: [
      ...series.map((s) => ({
        type: "bar", stack: "sev", name: s.name, data: s.data, barMaxWidth: 22,
        itemStyle: { color: s.color }, emphasis: { focus: "series" },
      })),
      ...lines.map((s) => ({
        type: "line", name: s.name, data: s.data, smooth: 0.3, smoothMonotone: "x", symbol: "circle", symbolSize: 4,
        showSymbol: false, lineStyle: { width: 2, color: s.color }, itemStyle: { color: s.color },
        z: 5,
      })),
    ],
  };
}

export function donutOption(dist: { level: string; count: number }[]): EChartsCoreOption {
  if (!dist.some((d) => d.count > 0)) {
    // an empty ring, not four equal slices of nothing
    return {
      tooltip: { show: false },
      series: [{
        type: "pie", radius: ["62%", "88%"], silent: true, label: { show: false }, labelLine: { show: false },
        data: [{ name: "none", value: 1, itemStyle: { color: "#1f2a3d" } }],
      }],
    };
  }
  return {
    tooltip: {
      ...tooltipBase,
      show: true, // setOption merges: undo the empty ring's settings
      trigger: "item",
      formatter: (p: unknown) => {
        const { name, value, percent, color } = p as { name: string; value: number; percent: number; color: string };
        return row(color, humanize(name), `${fmtNum(value)} (${percent}%)`);
      },
    },
    series: [{
      type: "pie",
      radius: ["62%", "88%"],
      silent: false,
      avoidLabelOverlap: true,
      padAngle: 2,
      itemStyle: { borderRadius: 4 },
      label: { show: false },
      labelLine: { show: false },
      emphasis: { scale: true, scaleSize: 4, label: { show: false } },
      data: dist.map((d) => ({
        name: d.level,
        value: d.count,
        itemStyle: { color: SEV_COLOR[sevClass(d.level)] ?? "#64748b" },
      })),
    }],
  };
}

export function attackersOption(attackers: Attacker[]): EChartsCoreOption {
  const top = attackers.slice(0, 10);
  return {
    grid: { left: 4, right: 36, top: 4, bottom: 4, containLabel: true },
    tooltip: {
      ...tooltipBase,
      trigger: "item",
      formatter: (p: unknown) => {
        const a = top[(p as { dataIndex: number }).dataIndex];
        if (!a) return "";
        return head(a.sourceIp) +
          row(SEV_COLOR[sevClass(a.severity)] ?? "#64748b", "Severity", humanize(a.severity)) +
          row("#94a3b8", "Attacks", fmtNum(a.attacks)) +
          row("#94a3b8", "Services targeted", fmtNum(a.servicesTargeted)) +
          row("#94a3b8", "Country", a.country) +
          row("#94a3b8", "Status", humanize(a.status));
      },
    },
    xAxis: { type: "value", minInterval: 1, ...axisCommon, axisLine: { show: false } },
    yAxis: {
      type: "category", inverse: true, data: top.map((a) => a.sourceIp), ...axisCommon,
      axisLabel: { ...axisCommon.axisLabel, color: TEXT, fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace" },
    },
    series: [{
      type: "bar",
      barMaxWidth: 16,
      data: top.map((a) => ({
        value: a.attacks,
        itemStyle: { color: SEV_COLOR[sevClass(a.severity)] ?? "#64748b", borderRadius: [0, 3, 3, 0] },
      })),
      label: { show: true, position: "right", color: TEXT, fontSize: 11 },
    }],
  };
}

const TYPE_COLOR: Record<string, string> = {
  login_failure: "#f87171",
  login_success: "#34d399",
  iam_change: "#a78bfa",
  network_scan: "#fbbf24",
  network_event: "#94a3b8",
};
const LAYER_COLOR: Record<string, string> = { source: "#fb7185", device: "#38bdf8", telemetry: "#94a3b8" };
const LAYER_NAME: Record<string, string> = { source: "Source IP", device: "Service", telemetry: "Telemetry type" };

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** Pixels the Sankey needs so every node of its busiest layer keeps a readable label. */
export function sankeyHeight(flow: NetworkFlow, narrow: boolean): number {
  const perLayer = new Map<string, number>();
  for (const n of flow.sankeyData.nodes) perLayer.set(n.layer, (perLayer.get(n.layer) ?? 0) + 1);
  const busiest = Math.max(0, ...perLayer.values());
  return Math.max(narrow ? 520 : 440, busiest * (narrow ? 18 : 20) + 16);
}

export function sankeyOption(flow: NetworkFlow, narrow: boolean): EChartsCoreOption {
  const nodes = flow.sankeyData.nodes;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const key = (id: number) => `n${id}`; // node names must be unique: key by id, label with the name
  const totals = new Map<number, number>();
  for (const l of flow.sankeyData.links) {
    const src = byId.get(l.source);
    // a source node's flow is its outgoing total; other nodes count incoming
    if (src?.layer === "source") totals.set(l.source, (totals.get(l.source) ?? 0) + l.value);
    totals.set(l.target, (totals.get(l.target) ?? 0) + l.value);
  }
  const label = (n: { name: string; layer: string }) =>
    n.layer === "telemetry" ? humanize(n.name) : clip(n.name, narrow ? 14 : 26);
  return {
    tooltip: {
      ...tooltipBase,
      trigger: "item",
      formatter: (p: unknown) => {
        const q = p as { dataType: string; data: { name?: string; source?: string; target?: string; value?: number } };
        if (q.dataType === "edge") {
          const s = byId.get(Number(String(q.data.source).slice(1)));
          const t = byId.get(Number(String(q.data.target).slice(1)));
          return head(`${s?.name ?? "?"} → ${t?.name ?? "?"}`) + row("#94a3b8", "Events", fmtNum(q.data.value ?? 0));
        }
        const n = byId.get(Number(String(q.data.name).slice(1)));
        if (!n) return "";
        return head(n.name) + row(LAYER_COLOR[n.layer] ?? "#94a3b8", LAYER_NAME[n.layer] ?? n.layer, fmtNum(totals.get(n.id) ?? 0));
      },
    },
    series: [{
      type: "sankey",
      left: 4, right: narrow ? 92 : 150, top: 8, bottom: 8,
      nodeWidth: narrow ? 8 : 12,
      nodeGap: narrow ? 6 : 9,
      nodeAlign: "justify",
      layoutIterations: 32,
      draggable: false,
      emphasis: { focus: "adjacency" },
      // With many services the chart grows (sankeyHeight); labels that would still collide are
      // hidden rather than drawn over each other (the tooltip names every node).
      labelLayout: { hideOverlap: true },
      label: {
        color: TEXT, fontSize: narrow ? 10 : 11, textBorderColor: "#111827", textBorderWidth: 3,
        formatter: (p: unknown) => {
          const n = byId.get(Number(String((p as { name: string }).name).slice(1)));
          return n ? label(n) : "";
        },
      },
      lineStyle: { curveness: 0.5 },
      data: nodes.map((n) => ({
        name: key(n.id),
        itemStyle: {
          color: n.layer === "telemetry" ? TYPE_COLOR[n.name] ?? LAYER_COLOR.telemetry : LAYER_COLOR[n.layer] ?? "#94a3b8",
          borderWidth: 0,
        },
      })),
      links: flow.sankeyData.links
        .filter((l) => byId.has(l.source) && byId.has(l.target) && l.value > 0)
        .map((l) => {
          // source → service links stay neutral; service → type links take the type's colour
          const t = byId.get(l.target)!;
          const typed = t.layer === "telemetry";
          return {
            source: key(l.source), target: key(l.target), value: l.value,
            lineStyle: typed
              ? { color: TYPE_COLOR[t.name] ?? LAYER_COLOR.telemetry, opacity: 0.32 }
              : { color: "#64748b", opacity: 0.22 },
          };
        }),
    }],
  };
}

export function heatmapOption(hm: Heatmap, narrow: boolean): EChartsCoreOption {
  const days = hm.days.length ? hm.days : ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const data: [number, number, number][] = [];
  hm.data.forEach((row, d) => row.forEach((v, hr) => data.push([hr, d, v])));
  const max = Math.max(1, hm.maxValue || 0, ...data.map((x) => x[2]));
  return {
    grid: { left: 4, right: 8, top: 4, bottom: 40, containLabel: true },
    tooltip: {
      ...tooltipBase,
      trigger: "item",
      formatter: (p: unknown) => {
        const [hr, d, v] = (p as { data: [number, number, number] }).data;
        const h2 = String(hr).padStart(2, "0");
        const h3 = String((hr + 1) % 24).padStart(2, "0");
        return head(`${days[d] ?? d} ${h2}:00–${h3}:00 UTC`) + row("#f97316", "Hostile events", fmtNum(v));
      },
    },
    xAxis: {
      type: "category", data: Array.from({ length: 24 }, (_, i) => String(i).padStart(2, "0")),
      ...axisCommon, splitLine: { show: false }, splitArea: { show: false },
      axisLabel: { ...axisCommon.axisLabel, interval: narrow ? 5 : 1 },
    },
    yAxis: {
      type: "category", data: days, inverse: true, ...axisCommon, splitLine: { show: false },
      axisLabel: { ...axisCommon.axisLabel, color: TEXT },
    },
    visualMap: {
      min: 0, max, calculable: false, orient: "horizontal", left: "center", bottom: 0,
      itemWidth: 10, itemHeight: narrow ? 120 : 180, text: [fmtNum(max), "0"], textGap: 6,
      textStyle: { color: MUTED, fontSize: 11 },
      inRange: { color: ["#131c2e", "#3b1d2a", "#9a3412", "#f97316", "#ef4444"] },
    },
    series: [{
      type: "heatmap",
      data,
      itemStyle: { borderColor: "#0b1220", borderWidth: 2, borderRadius: 2 },
      emphasis: { itemStyle: { borderColor: "#f8fafc", borderWidth: 1 } },
    }],
  };
}
