// Formatting helpers. All times are shown in UTC, the contract's time zone.

export const SEVERITIES = ["critical", "high", "medium", "low"] as const;

export const SEV_COLOR: Record<string, string> = {
  critical: "#ef4444",
  high: "#f97316",
  medium: "#f5b400",
  low: "#60a5fa",
};

/** Log levels mapped onto the alert colour scale (critical red, error orange, warning amber). */
export const LEVEL_COLOR: Record<string, string> = {
  critical: SEV_COLOR.critical,
  error: SEV_COLOR.high,
  warning: SEV_COLOR.medium,
  info: "#64748b",
  debug: "#475569",
};

export function sevRank(s: string): number {
  const i = (SEVERITIES as readonly string[]).indexOf(s);
  return i < 0 ? SEVERITIES.length : i;
}

/** A known severity name, or "unknown"; used for CSS class names only. */
export function sevClass(s: string): string {
  return (SEVERITIES as readonly string[]).includes(s) ? s : "unknown";
}

export function levelClass(s: string): string {
  return s in LEVEL_COLOR ? s : "info";
}

export function parseTime(iso: string): Date | null {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n: number) => String(n).padStart(2, "0");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** "Jan 30 09:20" (UTC). */
export function fmtDateTime(iso: string): string {
  const d = parseTime(iso);
  if (!d) return iso;
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** "09:20:05" (UTC). */
export function fmtClock(iso: string): string {
  const d = parseTime(iso);
  if (!d) return iso;
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Axis label for an hourly bucket: "14:00", or "Thu 14:00" on windows longer than two days. */
export function fmtHour(iso: string, withDay: boolean): string {
  const d = parseTime(iso);
  if (!d) return iso;
  const hh = `${pad(d.getUTCHours())}:00`;
  return withDay ? `${WEEKDAYS[d.getUTCDay()]} ${hh}` : hh;
}

export function fmtAgo(from: Date, now = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  return `${Math.floor(m / 60)}h ${m % 60}m ago`;
}

export function fmtNum(n: number): string {
  return Number.isFinite(n) ? n.toLocaleString("en-US") : "–";
}

const ACRONYMS: Record<string, string> = { iam: "IAM", ip: "IP", api: "API", vpn: "VPN", mfa: "MFA" };
/** "brute_force_attack" → "Brute force attack"; "iam_change" → "IAM change". */
export function humanize(s: string): string {
  const t = s.replace(/[_.]+/g, " ").trim().split(" ").map((w) => ACRONYMS[w] ?? w).join(" ");
  return t ? t[0].toUpperCase() + t.slice(1) : s;
}

/** Off hours: outside 08:00–18:00 UTC, or a Saturday/Sunday (UTC). */
export function isOffHours(iso: string): boolean {
  const d = parseTime(iso);
  if (!d) return false;
  const day = d.getUTCDay();
  const minutes = d.getUTCHours() * 60 + d.getUTCMinutes();
  return day === 0 || day === 6 || minutes < 8 * 60 || minutes >= 18 * 60;
}

let regionNames: Intl.DisplayNames | null = null;
/** "DE" → "Germany"; anything that is not a region code is returned unchanged. */
export function countryName(code: string): string {
  if (!/^[A-Za-z]{2}$/.test(code)) return code;
  try {
    regionNames ??= new Intl.DisplayNames(["en"], { type: "region" });
    return regionNames.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** "Jan 30 09:20:05 UTC": evidence times, where seconds matter. */
export function fmtStamp(iso: string): string {
  const d = parseTime(iso);
  if (!d) return iso;
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** A long id (a UUID) cut to its first 8 characters, the full id going in a title; a raw line's short id stays whole. */
export function shortId(id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…` : id;
}

/**
 * One row of the evidence panel (docs/api.md §10.10): a key, readable text, extra lines (a hop's
 * two ends) and ids to show shortened; `wide` rows take the panel's whole width. Plain strings
 * only: the page puts them in text nodes.
 */
export interface EvidenceRow {
  key: string;
  text: string;
  lines?: string[];
  ids?: string[];
  wide?: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown) => (typeof v === "string" && v.trim() ? v : null);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/;
const UNITS: Record<string, string> = { distance_km: "km", speed_kmh: "km/h", window_minutes: "min", history_days: "days" };

/** "vpn, datacenter", or "none". */
function networks(v: unknown): string {
  const list = Array.isArray(v) ? v.map(String).filter(Boolean) : [];
  return list.length ? list.join(", ") : "none";
}

/** "London, United Kingdom (GB)", else the coordinates. */
function place(e: Obj): string {
  const cc = str(e.country);
  const name = str(e.country_name) ?? (cc ? countryName(cc) : null);
  const country = name && cc && name !== cc ? `${name} (${cc})` : name ?? cc;
  const where = [str(e.city), country].filter(Boolean).join(", ");
  if (where) return where;
  return typeof e.lat === "number" && typeof e.lon === "number" ? `${e.lat}, ${e.lon}` : "unknown place";
}

/** One end of a travel hop: place · time zone · AS and organisation · IP · networks · time. */
export function endpointText(e: Obj): string {
  const org = str(e.asn_org);
  const asn = e.asn != null && e.asn !== "" ? `AS${String(e.asn)}${org ? ` ${org}` : ""}` : org;
  const nets = Array.isArray(e.networks) && e.networks.length ? networks(e.networks) : null;
  const at = str(e.at);
  return [place(e), str(e.timezone), asn, str(e.ip), nets, at ? fmtStamp(at) : null].filter(Boolean).join(" · ");
}

/** "alice ×3, bob ×2 — 3 in all" for `[{actor_id, count}]` or `[{ip, count}]`. */
function tally(list: unknown[], total: unknown): string {
  const items = list.map((x) => {
    if (!isObj(x)) return String(x);
    const name = Object.entries(x).find(([k]) => k !== "count")?.[1];
    return x.count != null ? `${String(name)} ×${String(x.count)}` : String(name);
  });
  const all = typeof total === "number" ? total : items.length;
  return `${items.join(", ") || "none"} — ${all} in all`;
}

function scalar(key: string, v: unknown): string {
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return UNITS[key] ? `${fmtNum(v)} ${UNITS[key]}` : String(v);
  if (typeof v === "string" && ISO.test(v)) return fmtStamp(v);
  return String(v);
}

/** Where the wide rows go, after the short facts: hops, who, from where, which events. */
const WIDE_ORDER = ["hop", "from", "to", "accounts", "source_ips", "event_ids"];
const wideRank = (r: EvidenceRow) => {
  const i = WIDE_ORDER.indexOf(r.key.split(" ")[0]);
  return i < 0 ? WIDE_ORDER.length : i;
};

/**
 * Evidence as rows for people: travel hops one per row with both ends (the top-level `from` and
 * `to` repeat the latest hop, so they are left out), `accounts` and `source_ips` as counted lists
 * with their totals, `event_ids` as a count with the ids, `networks` joined, times readable.
 * Anything else nested is flattened to "parent.key" rows. Short facts come first, in the
 * evidence's order, then the wide rows.
 */
export function flattenEvidence(ev: unknown): EvidenceRow[] {
  const all = rows(ev, "", []);
  const wide = all.filter((r) => r.wide).sort((a, b) => wideRank(a) - wideRank(b));
  return [...all.filter((r) => !r.wide), ...wide];
}

function rows(ev: unknown, prefix: string, out: EvidenceRow[]): EvidenceRow[] {
  if (!isObj(ev)) {
    if (ev != null) out.push({ key: prefix || "value", text: String(ev) });
    return out;
  }
  const hops = !prefix && Array.isArray(ev.hops) && ev.hops.length ? ev.hops : null;
  for (const [k, v] of Object.entries(ev)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (hops && (k === "from" || k === "to")) continue;
    if (!prefix && (k === "accounts_total" || k === "source_ips_total") && Array.isArray(ev[k.replace("_total", "")])) continue;
    if (k === "hops" && Array.isArray(v)) {
      v.forEach((hop: unknown, i) => {
        const label = `hop ${i + 1} of ${v.length}`;
        if (!isObj(hop)) {
          out.push({ key: label, text: String(hop), wide: true });
          return;
        }
        // The summary names both places, the distance, time and speed, and "via …" networks.
        const text = str(hop.summary) ?? `${scalar("distance_km", hop.distance_km)} in ${scalar("window_minutes", hop.window_minutes)}`;
        const lines = (["from", "to"] as const).flatMap((end) => (isObj(hop[end]) ? [`${end}: ${endpointText(hop[end] as Obj)}`] : []));
        out.push({ key: label, text, lines, wide: true });
      });
    } else if ((k === "accounts" || k === "source_ips") && Array.isArray(v)) {
      out.push({ key, text: tally(v, ev[`${k}_total`]), wide: true });
    } else if (k === "event_ids" && Array.isArray(v)) {
      out.push({ key, text: `${v.length} event${v.length === 1 ? "" : "s"}`, ids: v.map(String), wide: true });
    } else if (k === "networks") {
      out.push({ key, text: networks(v) });
    } else if ((k === "from" || k === "to") && isObj(v)) {
      out.push({ key, text: endpointText(v), wide: true });
    } else if (isObj(v)) {
      rows(v, key, out);
    } else if (Array.isArray(v)) {
      out.push({ key, text: v.map((x) => (x && typeof x === "object" ? JSON.stringify(x) : scalar(k, x))).join(", ") });
    } else {
      out.push({ key, text: scalar(k, v) });
    }
  }
  return out;
}
