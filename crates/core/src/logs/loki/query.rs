//! Loki's read requests made into SQL over `logs`, and the rows made into Loki's JSON answers
//! (`{"status": "success", "data": …}`): streams for log queries, matrices and vectors for
//! metric queries, label names, values and series.

use super::logql::{self, Expr, FilterOp, MatchOp, Metric, RangeFn, Selector};
use super::{
    parse_duration_ms, parse_time, Label, MAX_BUCKETS, MAX_LIMIT, MAX_POINTS, MAX_SCANNED,
    MAX_VALUE_SCAN,
};
use crate::api::error::ApiError;
use crate::api::params::aliased;
use crate::api::sql::{SqlParam, Statement};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

const HOUR_MS: i64 = 3_600_000;
/// Most rows a metric query's SQL returns (buckets × streams).
const MAX_METRIC_ROWS: u32 = 500_000;

/// The time bounds of a read: `start` and `end` (inclusive), `end` defaulting to now and
/// `start` to an hour before it, `start` no earlier than the retention cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: UnixMs,
    pub end: UnixMs,
}

impl Window {
    pub fn parse(
        params: &[(String, String)],
        now: UnixMs,
        cutoff: UnixMs,
    ) -> Result<Window, ApiError> {
        let end = match aliased(params, &["end"])? {
            Some(raw) => parse_time("end", raw)?,
            None => now,
        };
        let start = match aliased(params, &["start"])? {
            Some(raw) => parse_time("start", raw)?,
            None => UnixMs(end.0 - HOUR_MS),
        };
        if start > end {
            return Err(ApiError::invalid("start", "must not be after end"));
        }
        Ok(Window {
            start: start.max(cutoff),
            end,
        })
    }
}

/// A parsed `query_range` or `query` request.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub expr: Expr,
    pub window: Window,
    pub step_ms: i64,
    pub limit: u32,
    /// `direction=forward`: oldest first; else newest first (Loki's default).
    pub forward: bool,
    /// `query` (at `window.end`) rather than `query_range`.
    pub instant: bool,
}

impl QueryRequest {
    /// `query_range` (`instant: false`) or `query` parameters. For an instant query `time`
    /// (default now) is the evaluation time.
    pub fn parse(
        params: &[(String, String)],
        now: UnixMs,
        cutoff: UnixMs,
        instant: bool,
    ) -> Result<QueryRequest, ApiError> {
        let text = aliased(params, &["query"])?
            .ok_or_else(|| ApiError::invalid("query", "is required"))?;
        let expr = logql::parse(text)?;
        let window = if instant {
            let at = match aliased(params, &["time"])? {
                Some(raw) => parse_time("time", raw)?,
                None => now,
            };
            // Nothing before the retention cutoff is read, as for a range.
            Window {
                start: at.max(cutoff),
                end: at,
            }
        } else {
            Window::parse(params, now, cutoff)?
        };
        let step_ms = match aliased(params, &["step"])? {
            Some(raw) => parse_duration_ms(raw).filter(|ms| *ms > 0).ok_or_else(|| {
                ApiError::invalid("step", "must be a positive duration (60s, 1m) or seconds")
            })?,
            None => (((window.end.0 - window.start.0) / 250).max(1000) + 999) / 1000 * 1000,
        };
        let limit = match aliased(params, &["limit"])? {
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::invalid("limit", "must be a positive integer"))?
                .min(MAX_LIMIT),
            None => 100,
        };
        let forward = match aliased(params, &["direction"])?.map(str::trim) {
            None | Some("backward") | Some("BACKWARD") => false,
            Some("forward") | Some("FORWARD") => true,
            Some(_) => {
                return Err(ApiError::invalid(
                    "direction",
                    "must be forward or backward",
                ))
            }
        };
        if instant && matches!(expr, Expr::Log(_)) {
            return Err(ApiError::invalid(
                "query",
                "log queries are answered by query_range; query takes metric queries",
            ));
        }
        if let Expr::Metric(m) = &expr {
            if m.selector
                .filters
                .iter()
                .any(|f| matches!(f.op, FilterOp::Re | FilterOp::NotRe))
            {
                return Err(ApiError::invalid(
                    "query",
                    "regular-expression line filters (|~, !~) are answered in log queries only; use |= or != in a metric query",
                ));
            }
            if !instant && (window.end.0 - window.start.0) / step_ms >= MAX_POINTS {
                return Err(ApiError::invalid(
                    "step",
                    format!("gives more than {MAX_POINTS} points: raise step or narrow the range"),
                ));
            }
        }
        Ok(QueryRequest {
            expr,
            window,
            step_ms,
            limit,
            forward,
            instant,
        })
    }

    /// The statement answering the request, for `org`; `None` when nothing needs reading (a
    /// constant, or a selector no stream can match).
    pub fn statement(&self, org: &str) -> Result<Option<Statement>, ApiError> {
        match &self.expr {
            Expr::Vector(_) => Ok(None),
            Expr::Log(sel) => Ok(log_statement(
                org,
                sel,
                &self.window,
                self.limit,
                self.forward,
            )),
            Expr::Metric(m) => metric_statement(org, m, &self.metric_plan()),
        }
    }

    fn metric_plan(&self) -> MetricPlan {
        let range = match &self.expr {
            Expr::Metric(m) => m.range_ms,
            _ => 0,
        };
        let step = if self.instant { range } else { self.step_ms };
        let g = gcd(step, range).max(1);
        MetricPlan {
            first: self.window.start.0,
            last: self.window.end.0,
            step,
            range,
            g,
            base: self.window.start.0 - range,
        }
    }

    /// Loki's answer from the statement's rows (none for a constant).
    pub fn answer(&self, rows: Vec<Value>) -> Result<Value, ApiError> {
        let data = match &self.expr {
            Expr::Vector(v) => {
                if self.instant {
                    json!({"resultType": "vector", "result": [{"metric": {}, "value": [secs(self.window.end.0), number(*v)]}]})
                } else {
                    let mut values = Vec::new();
                    let mut t = self.window.start.0;
                    while t <= self.window.end.0 && values.len() < MAX_POINTS as usize {
                        values.push(json!([secs(t), number(*v)]));
                        t += self.step_ms;
                    }
                    json!({"resultType": "matrix", "result": [{"metric": {}, "values": values}]})
                }
            }
            Expr::Log(sel) => return Ok(streams(sel, rows, self.limit)),
            Expr::Metric(m) => metric(m, &self.metric_plan(), rows, self.instant)?,
        };
        Ok(json!({"status": "success", "data": data}))
    }
}

fn secs(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// A sample value as Loki writes it: a string, integers without a fraction.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// The SQL terms a selector's exact matchers and substring filters become (the rest is
/// checked on each row), appended to `params`; `None` when no stream can match.
fn sql_terms(sel: &Selector, alias: &str, params: &mut Vec<SqlParam>) -> Option<String> {
    let mut out = String::new();
    for m in &sel.matchers {
        match (m.label, m.op) {
            (Some(label), MatchOp::Eq | MatchOp::Ne) => {
                params.push(SqlParam::Text(m.value.clone()));
                let op = if m.op == MatchOp::Eq { "=" } else { "!=" };
                out.push_str(&format!(
                    " AND {alias}{} {op} ?{}",
                    label.name(),
                    params.len()
                ));
            }
            // A label edgesoc does not have is empty on every stream.
            (None, _) if !m.matches("") => return None,
            _ => {}
        }
    }
    for f in &sel.filters {
        let test = match f.op {
            FilterOp::Contains => "> 0",
            FilterOp::NotContains => "= 0",
            _ => continue,
        };
        params.push(SqlParam::Text(f.value.clone()));
        out.push_str(&format!(
            " AND instr({alias}message, ?{}) {test}",
            params.len()
        ));
    }
    Some(out)
}

/// Whether a row's labels pass every matcher, and its line every filter.
fn row_passes(sel: &Selector, labels: &Labels, line: Option<&str>) -> bool {
    sel.matchers
        .iter()
        .all(|m| m.matches(m.label.map_or("", |l| labels.get(l))))
        && line.is_none_or(|line| sel.filters.iter().all(|f| f.passes(line)))
}

/// One row's stream labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
struct Labels {
    service: Option<String>,
    namespace: Option<String>,
    #[serde(rename = "type")]
    log_type: Option<String>,
    level: Option<String>,
}

impl Labels {
    fn get(&self, label: Label) -> &str {
        match label {
            Label::Service => &self.service,
            Label::Namespace => &self.namespace,
            Label::Type => &self.log_type,
            Label::Level => &self.level,
        }
        .as_deref()
        .unwrap_or("")
    }

    /// The stream object: every label with a value.
    fn stream(&self) -> Map<String, Value> {
        Label::ALL
            .iter()
            .filter(|l| !self.get(**l).is_empty())
            .map(|l| (l.name().to_string(), json!(self.get(*l))))
            .collect()
    }
}

fn log_statement(
    org: &str,
    sel: &Selector,
    w: &Window,
    limit: u32,
    forward: bool,
) -> Option<Statement> {
    let mut params = vec![
        SqlParam::Text(org.into()),
        SqlParam::Number(w.start.0 as f64),
        SqlParam::Number(w.end.0 as f64),
    ];
    let terms = sql_terms(sel, "l.", &mut params)?;
    let dir = if forward { "ASC" } else { "DESC" };
    let checked_in_rust = sel
        .matchers
        .iter()
        .any(|m| matches!(m.op, MatchOp::Re | MatchOp::NotRe))
        || sel
            .filters
            .iter()
            .any(|f| matches!(f.op, FilterOp::Re | FilterOp::NotRe));
    let take = if checked_in_rust { MAX_SCANNED } else { limit };
    Some((
        format!(
            "WITH s AS MATERIALIZED (SELECT id, ts FROM logs INDEXED BY logs_org_ts WHERE org_id = ?1 \
             AND ts >= ?2 AND ts <= ?3 ORDER BY ts {dir}, id {dir} LIMIT {MAX_SCANNED}) \
             SELECT * FROM (SELECT l.ts, l.service, l.namespace, l.type, l.level, l.message, NULL AS scanned \
             FROM s JOIN logs AS l ON l.id = s.id WHERE l.org_id = ?1{terms} ORDER BY l.ts {dir}, l.id {dir} LIMIT {take}) \
             UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, (SELECT count(*) FROM s)"
        ),
        params,
    ))
}

#[derive(Deserialize)]
struct LineRow {
    ts: Option<f64>,
    #[serde(flatten)]
    labels: Labels,
    message: Option<String>,
    scanned: Option<f64>,
}

fn streams(sel: &Selector, rows: Vec<Value>, limit: u32) -> Value {
    let mut by_stream: BTreeMap<Labels, Vec<Value>> = BTreeMap::new();
    let (mut kept, mut scanned) = (0u32, 0u32);
    for row in rows {
        let Ok(r) = serde_json::from_value::<LineRow>(row) else {
            continue;
        };
        if let Some(n) = r.scanned {
            scanned = n as u32;
            continue;
        }
        let (Some(ts), Some(line)) = (r.ts, r.message) else {
            continue;
        };
        if kept >= limit || !row_passes(sel, &r.labels, Some(&line)) {
            continue;
        }
        kept += 1;
        let ns = (ts as i64).saturating_mul(1_000_000).to_string();
        by_stream
            .entry(r.labels)
            .or_default()
            .push(json!([ns, line]));
    }
    let result: Vec<Value> = by_stream
        .into_iter()
        .map(|(labels, values)| json!({"stream": labels.stream(), "values": values}))
        .collect();
    let mut out = json!({"status": "success", "data": {"resultType": "streams", "result": result}});
    if scanned >= MAX_SCANNED && kept < limit {
        out["warnings"] = json!([format!(
            "edgesoc read {MAX_SCANNED} lines of the range and found {kept} matching; narrow the time range for the rest"
        )]);
    }
    out
}

/// How a metric query's points are counted: buckets of `g` ms from `base` (`base` excluded),
/// points at `first`, `first + step`, … up to `last`, each over the `range` ms before it.
struct MetricPlan {
    first: i64,
    last: i64,
    step: i64,
    range: i64,
    g: i64,
    base: i64,
}

fn metric_statement(
    org: &str,
    m: &Metric,
    plan: &MetricPlan,
) -> Result<Option<Statement>, ApiError> {
    if (plan.last - plan.base) / plan.g > MAX_BUCKETS {
        return Err(ApiError::invalid(
            "step",
            "with this range gives too fine a count: choose a step and a range that are multiples of a larger unit",
        ));
    }
    let mut params = vec![
        SqlParam::Text(org.into()),
        SqlParam::Number(plan.base as f64),
        SqlParam::Number(plan.last as f64),
        SqlParam::Number(plan.g as f64),
    ];
    let Some(terms) = sql_terms(&m.selector, "", &mut params) else {
        return Ok(None);
    };
    Ok(Some((
        format!(
            "SELECT CAST((ts - ?2 - 1) / ?4 AS INTEGER) AS b, service, namespace, type, level, count(*) AS n \
             FROM logs INDEXED BY logs_org_ts WHERE org_id = ?1 AND ts > ?2 AND ts <= ?3{terms} \
             GROUP BY b, service, namespace, type, level LIMIT {MAX_METRIC_ROWS}"
        ),
        params,
    )))
}

#[derive(Deserialize)]
struct CountRow {
    b: f64,
    #[serde(flatten)]
    labels: Labels,
    n: f64,
}

fn metric(
    m: &Metric,
    plan: &MetricPlan,
    rows: Vec<Value>,
    instant: bool,
) -> Result<Value, ApiError> {
    if rows.len() >= MAX_METRIC_ROWS as usize {
        return Err(ApiError::invalid(
            "query",
            "counts too many streams and steps at once: narrow the selector or raise the step",
        ));
    }
    // Per series (its labels after `sum by`), the count of each bucket.
    let mut series: BTreeMap<Vec<(String, String)>, BTreeMap<i64, f64>> = BTreeMap::new();
    for row in rows {
        let r: CountRow = serde_json::from_value(row).map_err(|_| ApiError::internal())?;
        if !row_passes(&m.selector, &r.labels, None) {
            continue;
        }
        let key: Vec<(String, String)> = match &m.sum_by {
            None => Label::ALL
                .iter()
                .map(|l| (l.name().to_string(), r.labels.get(*l).to_string()))
                .collect(),
            Some(by) => by
                .iter()
                .map(|name| {
                    let v = Label::parse(name).map_or("", |l| r.labels.get(l));
                    (name.clone(), v.to_string())
                })
                .collect(),
        };
        let key: Vec<(String, String)> = key.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        *series
            .entry(key)
            .or_default()
            .entry(r.b as i64)
            .or_default() += r.n;
    }
    let per = |count: f64| match m.func {
        RangeFn::CountOverTime => count,
        RangeFn::Rate => count / (plan.range as f64 / 1000.0),
    };
    let (g, width) = (plan.g, plan.range / plan.g);
    let mut result = Vec::new();
    for (key, buckets) in series {
        let metric: Map<String, Value> = key.into_iter().map(|(k, v)| (k, json!(v))).collect();
        let point = |t: i64| -> f64 {
            let lo = (t - plan.range - plan.base) / g;
            buckets.range(lo..lo + width).map(|(_, n)| n).sum()
        };
        if instant {
            let v = point(plan.last);
            if v > 0.0 {
                result.push(json!({"metric": metric, "value": [secs(plan.last), number(per(v))]}));
            }
            continue;
        }
        let mut values = Vec::new();
        let mut t = plan.first;
        while t <= plan.last {
            let v = point(t);
            if v > 0.0 {
                values.push(json!([secs(t), number(per(v))]));
            }
            t += plan.step;
        }
        if !values.is_empty() {
            result.push(json!({"metric": metric, "values": values}));
        }
    }
    Ok(json!({"resultType": if instant { "vector" } else { "matrix" }, "result": result}))
}

/// `labels`: the label names every stream has.
pub fn labels_answer() -> Value {
    json!({"status": "success", "data": Label::NAMES})
}

/// The distinct label sets of the newest [`MAX_VALUE_SCAN`] lines in `w` (exact matchers of
/// `sel` applied), for `label/:name/values` and `series`.
pub fn label_sets_statement(org: &str, sel: Option<&Selector>, w: &Window) -> Option<Statement> {
    let mut params = vec![
        SqlParam::Text(org.into()),
        SqlParam::Number(w.start.0 as f64),
        SqlParam::Number(w.end.0 as f64),
    ];
    let terms = match sel {
        Some(sel) => sql_terms(sel, "", &mut params)?,
        None => String::new(),
    };
    Some((
        format!(
            "SELECT DISTINCT service, namespace, type, level FROM (SELECT service, namespace, type, level \
             FROM logs INDEXED BY logs_org_ts WHERE org_id = ?1 AND ts >= ?2 AND ts <= ?3{terms} \
             ORDER BY ts DESC LIMIT {MAX_VALUE_SCAN})"
        ),
        params,
    ))
}

fn label_sets(rows: Vec<Value>, sels: &[Selector]) -> Vec<Labels> {
    rows.into_iter()
        .filter_map(|r| serde_json::from_value::<Labels>(r).ok())
        .filter(|l| sels.is_empty() || sels.iter().any(|s| row_passes(s, l, None)))
        .collect()
}

/// `label/:name/values`: the values `name` takes among the rows of [`label_sets_statement`].
pub fn values_answer(name: &str, rows: Vec<Value>, sel: Option<&Selector>) -> Value {
    let Some(label) = Label::parse(name) else {
        return json!({"status": "success", "data": []});
    };
    let values: BTreeSet<String> = label_sets(rows, sel.map(std::slice::from_ref).unwrap_or(&[]))
        .iter()
        .map(|l| l.get(label).to_string())
        .filter(|v| !v.is_empty())
        .collect();
    json!({"status": "success", "data": values})
}

/// `series`: the streams matching any of `sels` among the rows of [`label_sets_statement`].
pub fn series_answer(rows: Vec<Value>, sels: &[Selector]) -> Value {
    let sets: BTreeSet<Labels> = label_sets(rows, sels).into_iter().collect();
    let data: Vec<Value> = sets.iter().map(|l| Value::Object(l.stream())).collect();
    json!({"status": "success", "data": data})
}

/// The selectors of `match[]` (or `match`) parameters, at least one; each a stream selector.
pub fn parse_matches(params: &[(String, String)]) -> Result<Vec<Selector>, ApiError> {
    let mut out = Vec::new();
    for (k, v) in params {
        if k == "match[]" || k == "match" {
            match logql::parse(v)? {
                Expr::Log(sel) => out.push(sel),
                _ => return Err(ApiError::invalid("match[]", "must be a stream selector")),
            }
        }
    }
    if out.is_empty() {
        return Err(ApiError::invalid(
            "match[]",
            "at least one stream selector is required",
        ));
    }
    Ok(out)
}

/// The optional `query` of `label/:name/values`: a stream selector narrowing the values.
pub fn parse_values_query(params: &[(String, String)]) -> Result<Option<Selector>, ApiError> {
    match aliased(params, &["query"])? {
        None => Ok(None),
        Some(text) => match logql::parse(text)? {
            Expr::Log(sel) => Ok(Some(sel)),
            _ => Err(ApiError::invalid("query", "must be a stream selector")),
        },
    }
}

/// `status/buildinfo`: what Grafana reads to pick the features it uses.
pub fn buildinfo_answer() -> Value {
    json!({"version": "2.9.0", "revision": "edgesoc", "branch": "", "buildUser": "", "buildDate": "", "goVersion": ""})
}
