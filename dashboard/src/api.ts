import type { ApiErrorBody, Anomaly, MockData } from "./types";
// API access: a session, not a key. Signing in exchanges the key once for an HttpOnly session
// cookie (POST /session, docs/api.md §2.7) that the browser sends by itself; the page keeps no key
// anywhere, only the session's CSRF token in memory, sent as X-CSRF-Token on every change.

/** The signed-in session's CSRF token (null: no session). */
let csrf: string | null = null;
/** Whether the page reads the operator's public organisation (DASHBOARD_PUBLIC_ORG), without a session. */
let publicOrg = false;

export interface SessionInfo {
  organization: { id: string; name: string };
  actor: string;
  role: "viewer" | "responder" | "admin";
  scopes: string[];
  expires_at: string | null;
  csrf_token?: string;
}
/** Who is signed in (null: nobody). */
export let session: SessionInfo | null = null;

export function hasKeyChoice(): boolean {
  return session != null || publicOrg;
}

/** Continue without signing in: the operator's public organisation, read-only. */
export function usePublicOrg(): void {
  publicOrg = true;
  session = null;
  csrf = null;
}

function forget(): void {
  session = null;
  csrf = null;
  publicOrg = false;
}

function headers(method = "GET", extra: Record<string, string> = {}): Headers {
  const hd = new Headers(extra);
  if (csrf && method !== "GET" && method !== "HEAD") hd.set("X-CSRF-Token", csrf);
  return hd;
}

function adopt(info: SessionInfo): SessionInfo {
  session = info;
  csrf = info.csrf_token ?? null;
  publicOrg = false;
  return info;
}

/** Signs in with `key` (sent once, never stored); throws ApiError (401 for a bad key). */
export async function signIn(key: string): Promise<SessionInfo> {
  const res = await fetch("/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key }),
    cache: "no-store",
  });
  if (!res.ok) throw await toError(res);
  return adopt(((await res.json()) as { data: SessionInfo }).data);
}

/** The session the cookie already holds (after a reload), or null. */
export async function restoreSession(): Promise<SessionInfo | null> {
  const res = await fetch("/session", { cache: "no-store" }).catch(() => null);
  if (!res?.ok) return null;
  const info = ((await res.json()) as { data: SessionInfo }).data;
  return info.csrf_token ? adopt(info) : null;
}

/** Ends the session (the cookie is cleared by the answer). */
export async function signOut(): Promise<void> {
  if (session) await fetch("/session", { method: "DELETE", headers: headers("DELETE"), cache: "no-store" }).catch(() => null);
  forget();
}

/** Forgets a session the server no longer accepts (a 401). */
export function dropSession(): void {
  forget();
}

/** A field problem of a 400 (docs/api.md §9.7): `field` names it, e.g. `value` or `suppress.scope`. */
export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter?: number,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
  }
}

async function toError(res: Response): Promise<ApiError> {
  let body: ApiErrorBody | null = null;
  try {
    body = (await res.json()) as ApiErrorBody;
  } catch {
    /* not JSON */
  }
  const code = body?.error?.code ?? body?.code ?? `HTTP_${res.status}`;
  const message = body?.error?.message ?? body?.message ?? `${res.status} ${res.statusText || "request failed"}`;
  const ra = body?.error?.retry_after ?? Number(res.headers.get("Retry-After") ?? NaN);
  const details = Array.isArray(body?.error?.details)
    ? body.error.details.filter((d) => d && typeof d.field === "string").map((d) => ({ field: d.field, message: String(d.message ?? "") }))
    : [];
  return new ApiError(res.status, String(code), String(message), Number.isFinite(ra) ? ra : undefined, details);
}

export interface Query {
  hours: number;
  service: string;
  namespace: string;
  /** A custom range (docs/dashboard.md §1): ISO start and end ("" = now); start "" = the last `hours`. */
  start: string;
  end: string;
  /** Count and list closed (resolved, safe) alerts too; by default only the open threats. */
  closed: boolean;
  /** Page-wide pivots ("" = none): every section counts only this address's / user's items. */
  ip: string;
  user: string;
}

/** The organisation's plan, as the last dashboard read named it (`X-LiteSOC-Plan`). */
export let plan: string | null = null;
/** The plan's retention in days (`X-LiteSOC-Retention`), once read. */
export let retentionDays: number | null = null;

export async function fetchMockData(q: Query, signal?: AbortSignal): Promise<MockData> {
  const p = new URLSearchParams({ hours: String(q.hours) });
  if (q.start) p.set("start", q.start);
  if (q.start && q.end) p.set("end", q.end);
  if (q.service) p.set("service", q.service);
  if (q.namespace) p.set("namespace", q.namespace);
  if (q.ip) p.set("source_ip", q.ip);
  if (q.user) p.set("user", q.user);
  p.set("anomaly_status", q.closed ? "all" : "active");
  const res = await fetch(`/ui/mock-data?${p}`, { headers: headers(), signal, cache: "no-store" });
  if (!res.ok) throw await toError(res);
  plan = res.headers.get("X-LiteSOC-Plan");
  const days = Number(res.headers.get("X-LiteSOC-Retention"));
  retentionDays = Number.isFinite(days) && days > 0 ? days : null;
  return (await res.json()) as MockData;
}

export type AlertAction = "acknowledge" | "resolve" | "mark_safe";

/** PATCH /alerts/:id (docs/api.md §5.6); resolves to the updated alert's status. */
export async function patchAlert(id: string, action: AlertAction): Promise<Anomaly["status"]> {
  const res = await fetch(`/alerts/${encodeURIComponent(id)}`, {
    method: "PATCH",
    headers: headers("PATCH", { "Content-Type": "application/json" }),
    body: JSON.stringify({ action }),
  });
  if (!res.ok) throw await toError(res);
  const body = (await res.json().catch(() => null)) as { data?: { status?: string } } | null;
  return body?.data?.status ?? { acknowledge: "acknowledged", resolve: "resolved", mark_safe: "safe" }[action];
}

/** A JSON API call with the session; resolves to `data` of the envelope, or throws ApiError. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(method, body === undefined ? {} : { "Content-Type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (!res.ok) throw await toError(res);
  const json = (await res.json()) as { data: T };
  return json.data;
}

/** `GET /health`'s quota use: whether the organisation has sent anything this month. */
export async function eventsThisMonth(): Promise<number> {
  const res = await fetch("/health", { headers: headers(), cache: "no-store" });
  if (!res.ok) throw await toError(res);
  const body = (await res.json()) as { quota?: { used?: number } };
  return body.quota?.used ?? 0;
}

/** `GET /agents` (docs/integrations.md §3), the whole answer (its `stale_after_seconds` too). */
export async function fetchAgents(signal?: AbortSignal): Promise<unknown> {
  const res = await fetch("/agents", { headers: headers(), signal, cache: "no-store" });
  if (!res.ok) throw await toError(res);
  return res.json();
}

/** `GET /logs` (docs/api.md §5.12): one page of raw lines, as the API answers it. */
export async function fetchLines(params: URLSearchParams): Promise<unknown> {
  const res = await fetch(`/logs?${params}`, { headers: headers(), cache: "no-store" });
  if (!res.ok) throw await toError(res);
  return res.json();
}
