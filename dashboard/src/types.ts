// Shapes of GET /ui/mock-data (docs/dashboard.md §3) and the API error body (docs/api.md §9.7).

export type AlertSeverity = "critical" | "high" | "medium" | "low";
export type LogLevel = "debug" | "info" | "warning" | "error" | "critical";
export type AlertStatus = "open" | "acknowledged" | "resolved" | "safe";

export interface Log {
  id: string;
  type: string;
  sourceIp: string;
  timestamp: string;
  user?: string;
  geo?: string;
  hostname?: string;
  targetIp?: string;
  action?: string;
  vpn?: boolean;
  device?: string;
  _metadata: { severity: LogLevel | string; service: string; namespace: string; status_code?: number };
}

export interface Anomaly {
  id: string;
  timestamp: string;
  severity: AlertSeverity | string;
  type: string;
  title: string;
  description: string;
  user: string | null;
  sourceIp: string | null;
  confidence: number;
  status: AlertStatus | string;
  service?: string;
  namespace?: string;
  evidence?: Record<string, unknown> | null;
}

export interface IamChange {
  timestamp: string;
  changedBy: string;
  action: string;
  resource: string;
  service: string;
}

export interface SankeyNode {
  id: number;
  name: string;
  layer: "source" | "device" | "telemetry" | string;
}

export interface NetworkFlow {
  totalEvents: number;
  networkFlows: number;
  activeNodes: number;
  sankeyData: { nodes: SankeyNode[]; links: { source: number; target: number; value: number }[] };
}

export interface Attacker {
  sourceIp: string;
  country: string;
  attacks: number;
  servicesTargeted: number;
  severity: AlertSeverity | string;
  status: "active" | "blocked" | "inactive" | string;
}

export interface Stats {
  totalEvents: number;
  totalAnomalies: number;
  criticalThreats: number;
  failedLogins: number;
  iamChanges: number;
  attackSources: number;
  eventsPerHour: number;
}

export interface Bucket {
  timestamp: string;
  total: number;
  critical: number;
  warnings: number;
  failedLogins: number;
  iamChanges: number;
}

export interface Heatmap {
  days: string[];
  data: number[][];
  maxValue: number;
}

export interface MockData {
  timeRange: { start: string; end: string; hours: number };
  logs: Log[];
  anomalies: Anomaly[];
  iamChanges: IamChange[];
  networkFlow: NetworkFlow;
  topAttackers: Attacker[];
  threatDistribution: { level: AlertSeverity | string; count: number }[];
  stats: Stats;
  securityEventsTimeline: Bucket[];
  attackPatternHeatmap: Heatmap;
  lastUpdated: string;
}

export interface ApiErrorBody {
  success?: false;
  error?: {
    code?: string; message?: string; retry_after?: number; required_plan?: string;
    details?: { field: string; message?: string; index?: number }[];
  };
  code?: string;
  message?: string;
}

// Shapes of the suppression and detection-settings API (docs/api.md §12) and the Alert object
// (docs/api.md §8.1), as far as the page reads them.

export type SuppressionScope = "ip" | "cidr" | "asn" | "actor" | "country";

export interface Suppression {
  id: string;
  scope: SuppressionScope | string;
  value: string;
  alert_types: string[] | null;
  reason: string;
  status: "active" | "expired" | "deleted" | string;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  deleted_at: string | null;
  deleted_by: string | null;
}

export interface Alert {
  id: string;
  alert_type: string;
  severity: string;
  status: string;
  title: string;
  description: string;
  source_ip: string | null;
  actor_id: string | null;
  created_at: string;
  suppressed_by: string | null;
  forensics: { network?: { asn?: number | null; asn_org?: string | null } | null; location?: { country_code?: string | null } | null } | null;
  metadata: { country?: string | null; confidence?: number; [k: string]: unknown };
  suppression?: Suppression;
}

export interface SettingsValues {
  brute_force_ip: { threshold: number; window_minutes: number };
  brute_force_account: { threshold: number; window_minutes: number };
  travel: { min_speed_kmh: number; min_distance_km: number };
  agents: { stale_alert_minutes: number };
  country_blocklist: string[];
}

export interface DetectionSettings extends SettingsValues {
  defaults: SettingsValues;
  reason: string | null;
  updated_by: string | null;
  updated_at: string | null;
}

// GET /agents: the organisation's litesoc-agent hosts and their heartbeats.

export interface Agent {
  hostname: string;
  ip_address: string | null;
  agent_version: string | null;
  first_seen: string;
  last_seen: string;
  /** "online": a heartbeat within `stale_after_seconds` (360); "stale" otherwise. */
  status: "online" | "stale" | string;
  seconds_since_seen: number;
  heartbeats: number;
  /** Up to 10 lines the agent read last, as received: attacker-influenced text. */
  recent_logs: string[];
}

export interface AgentList {
  success: true;
  data: Agent[];
  pagination?: { total: number; limit: number; offset: number; has_more: boolean };
  stale_after_seconds?: number;
}
