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

/** Flattens evidence into "key: value" rows; nested objects become "from.country". */
export function flattenEvidence(ev: unknown, prefix = "", out: [string, string][] = []): [string, string][] {
  if (ev && typeof ev === "object" && !Array.isArray(ev)) {
    for (const [k, v] of Object.entries(ev as Record<string, unknown>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === "object" && !Array.isArray(v)) flattenEvidence(v, key, out);
      else out.push([key, Array.isArray(v) ? v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ") : String(v)]);
    }
  } else if (ev != null) {
    out.push([prefix || "value", String(ev)]);
  }
  return out;
}
