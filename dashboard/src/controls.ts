// Form pieces shared by the suppressions card, the "Mark safe & suppress" dialog and the
// detection-settings card: the alert-type picker, the expiry picker, the API's field errors shown
// next to their fields, and the Pro-plan note. Built with h(): data only reaches the DOM as text.
import { ApiError } from "./api";
import { h } from "./dom";
import { countryName, humanize } from "./format";

/** The alert types of docs/api.md §8.2, in its order. */
export const ALERT_TYPES = [
  "brute_force_attack", "impossible_travel", "geo_anomaly", "new_device", "privilege_escalation",
  "data_exfiltration", "suspicious_activity", "rate_limit_exceeded", "account_compromise", "suspicious_network",
] as const;

export function message(err: unknown): string {
  return err instanceof ApiError ? `${err.status}: ${err.message}` : `Request failed: ${(err as Error).message}`;
}

export function planRestricted(err: unknown): boolean {
  return err instanceof ApiError && err.code === "PLAN_RESTRICTED";
}

/** "Germany (DE)" for a country code, the value itself otherwise. */
export function countryLabel(code: string): string {
  const name = countryName(code);
  return name !== code ? `${name} (${code.toUpperCase()})` : code;
}

/** A suppression scope for people. */
export function scopeLabel(scope: string): string {
  return ({ ip: "IP", cidr: "Network", asn: "ASN", actor: "Actor", country: "Country" } as Record<string, string>)[scope] ?? scope;
}

/** A suppression's scope and value for people: "IP 203.0.113.7", "Country Germany (DE)". */
export function scopeText(scope: string, value: string): string {
  return `${scopeLabel(scope)} ${scope === "country" ? countryLabel(value) : value}`;
}

/** An empty slot for the API's message about `field`, next to that field. */
export function fieldError(field: string): HTMLElement {
  return h("span", { class: "field-error", "data-error-for": field, role: "alert", hidden: true });
}

/** Shows `text` in the slot for `field`. */
export function setFieldError(form: HTMLElement, field: string, text: string): void {
  const slot = [...form.querySelectorAll<HTMLElement>(".field-error")].find((e) => e.dataset.errorFor === field);
  if (!slot) return;
  slot.hidden = false;
  slot.textContent = slot.textContent ? `${slot.textContent}; ${text}` : text;
}

export function clearErrors(form: HTMLElement, general: HTMLElement): void {
  for (const e of form.querySelectorAll<HTMLElement>(".field-error")) {
    e.hidden = true;
    e.textContent = "";
  }
  general.hidden = true;
  general.textContent = "";
}

/**
 * Shows an API error: each field problem (docs/api.md §9.7 `details`) next to its field, found by
 * `data-error-for` (`strip` is a prefix to drop, e.g. "suppress."); anything else, and the message
 * of an error without details, in `general`.
 */
export function showErrors(form: HTMLElement, general: HTMLElement, err: unknown, strip = ""): void {
  clearErrors(form, general);
  const rest: string[] = [];
  const details = err instanceof ApiError ? err.details : [];
  for (const d of details) {
    const field = d.field.startsWith(strip) ? d.field.slice(strip.length) : d.field;
    if (form.querySelector(`.field-error[data-error-for="${CSS.escape(field)}"]`)) setFieldError(form, field, d.message);
    else rest.push(`${d.field}: ${d.message}`);
  }
  if (!details.length) rest.push(planRestricted(err) ? "This needs the Pro plan or above." : message(err));
  if (rest.length) {
    general.hidden = false;
    general.textContent = rest.join("; ");
  }
}

export interface TypePicker {
  el: HTMLElement;
  /** The checked types, or null for "every type" (none checked). */
  value(): string[] | null;
  set(types: readonly string[]): void;
}

/** A drop-down of checkboxes, one per alert type; none checked means every type. */
export function typePicker(name: string): TypePicker {
  const summary = h("summary", null, "All alert types");
  const boxes = ALERT_TYPES.map((t) => h("input", { type: "checkbox", name, value: t }));
  const sync = () => {
    const n = boxes.filter((b) => b.checked).length;
    summary.textContent = n === 0 ? "All alert types" : n === 1 ? humanize(boxes.find((b) => b.checked)!.value) : `${n} alert types`;
  };
  for (const b of boxes) b.addEventListener("change", sync);
  const el = h("details", { class: "type-picker" }, summary,
    h("div", { class: "type-list" }, boxes.map((b) => h("label", { class: "check" }, b, humanize(b.value)))));
  return {
    el,
    value: () => {
      const on = boxes.filter((b) => b.checked).map((b) => b.value);
      return on.length ? on : null;
    },
    set(types) {
      for (const b of boxes) b.checked = types.includes(b.value);
      sync();
    },
  };
}

export interface ExpiryPicker {
  el: HTMLElement;
  /** An ISO time, null for "no expiry", or undefined when "until a date" has no date. */
  value(now?: Date): string | null | undefined;
  reset(): void;
}

const SPANS: Record<string, number> = { "1h": 3_600_000, "1d": 86_400_000, "1w": 7 * 86_400_000 };

/** Expiry: in 1 hour, 1 day, 1 week (the default), until the end of a date (UTC), or none. */
export function expiryPicker(idPrefix: string): ExpiryPicker {
  const select = h("select", { id: `${idPrefix}-expiry`, name: "expiry" },
    h("option", { value: "1h" }, "In 1 hour"),
    h("option", { value: "1d" }, "In 1 day"),
    h("option", { value: "1w", selected: true }, "In 1 week"),
    h("option", { value: "date" }, "Until the end of a date (UTC)"),
    h("option", { value: "none" }, "No expiry (until deleted)"));
  const date = h("input", { type: "date", id: `${idPrefix}-expiry-date`, name: "expiry_date", "aria-label": "Expiry date (UTC)", hidden: true });
  select.addEventListener("change", () => {
    date.hidden = select.value !== "date";
  });
  return {
    el: h("span", { class: "expiry" }, select, date),
    value(now = new Date()) {
      const v = select.value;
      if (v === "none") return null;
      if (v === "date") {
        const day = date.value ? new Date(`${date.value}T00:00:00Z`) : null;
        if (!day || Number.isNaN(day.getTime())) return undefined;
        return new Date(day.getTime() + 86_400_000).toISOString();
      }
      return new Date(now.getTime() + (SPANS[v] ?? SPANS["1w"])).toISOString();
    },
    reset() {
      select.value = "1w";
      date.value = "";
      date.hidden = true;
    },
  };
}

/** The network an address is in, as a suppression would name it: IPv4 /24, IPv6 /64. */
export function networkOf(ip: string): string | null {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/i.exec(ip.trim());
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (!ip.includes(":") || !/^[0-9a-f:]+$/i.test(ip.trim())) return null;
  const [head, tail = ""] = ip.trim().toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  if (groups.length !== 8) return null;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
