// API access: the key lives in sessionStorage and goes out as X-API-Key on every request.
import type { ApiErrorBody, Anomaly, MockData } from "./types";

const KEY_STORAGE = "edgesoc.apiKey";
/** Marker stored when the operator chose to continue without a key (DASHBOARD_PUBLIC_ORG). */
const NO_KEY = "\u0000none";

export function getKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function setKey(key: string | null): void {
  try {
    if (key == null) sessionStorage.removeItem(KEY_STORAGE);
    else sessionStorage.setItem(KEY_STORAGE, key === "" ? NO_KEY : key);
  } catch {
    /* storage disabled: the key lasts until reload */
  }
}

export function hasKeyChoice(): boolean {
  return getKey() != null;
}

function headers(extra: Record<string, string> = {}): Headers {
  const hd = new Headers(extra);
  const key = getKey();
  if (key && key !== NO_KEY) hd.set("X-API-Key", key);
  return hd;
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
}

export async function fetchMockData(q: Query, signal?: AbortSignal): Promise<MockData> {
  const p = new URLSearchParams({ hours: String(q.hours) });
  if (q.service) p.set("service", q.service);
  if (q.namespace) p.set("namespace", q.namespace);
  const res = await fetch(`/ui/mock-data?${p}`, { headers: headers(), signal, cache: "no-store" });
  if (!res.ok) throw await toError(res);
  return (await res.json()) as MockData;
}

export type AlertAction = "acknowledge" | "resolve" | "mark_safe";

/** PATCH /alerts/:id (docs/api.md §5.6); resolves to the updated alert's status. */
export async function patchAlert(id: string, action: AlertAction): Promise<Anomaly["status"]> {
  const res = await fetch(`/alerts/${encodeURIComponent(id)}`, {
    method: "PATCH",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ action }),
  });
  if (!res.ok) throw await toError(res);
  const body = (await res.json().catch(() => null)) as { data?: { status?: string } } | null;
  return body?.data?.status ?? { acknowledge: "acknowledged", resolve: "resolved", mark_safe: "safe" }[action];
}

/** A JSON API call with the key; resolves to `data` of the envelope, or throws ApiError. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (!res.ok) throw await toError(res);
  const json = (await res.json()) as { data: T };
  return json.data;
}
