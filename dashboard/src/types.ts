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
  error?: { code?: string; message?: string; retry_after?: number; required_plan?: string };
  code?: string;
  message?: string;
}
