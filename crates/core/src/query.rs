//! Query-string parsing for the list endpoints (api-contract §5.2) and the org-scoped SQL it
//! becomes. Every statement starts from `org_id = ?1 AND created_at >= cutoff`, so no filter
//! combination can reach another tenant's rows or data past retention.

use crate::catalogue::Severity;
use crate::error::ApiError;
use crate::time::UnixMs;
use chrono::{DateTime, NaiveDate};
use hmac::Mac;
use std::num::IntErrorKind;

/// `/events` page size bounds.
pub const EVENTS_DEFAULT_LIMIT: u32 = 50;
pub const EVENTS_MAX_LIMIT: u32 = 200;

/// A value bound to a `?N` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    /// Numbers travel as f64 (D1 has no BigInt); ms timestamps stay exact below 2^53.
    Number(f64),
    Null,
}

/// Keyset position after the last row of a page, newest-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: UnixMs,
    pub id: String,
}

/// Seals cursors for one organisation and one list: a cursor is `base64url(created_at:id)`
/// and a truncated HMAC-SHA256 of it under a key derived from the Worker's `CURSOR_SECRET`,
/// the organisation and the list, so a cursor made or edited by hand, or taken from another
/// organisation or list, is a 400.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

/// Bytes of the MAC kept in a cursor (128 bits).
const CURSOR_MAC_BYTES: usize = 16;

impl CursorKey {
    /// The key for `list` (`"events"`, `"alerts"`, …) of `org`.
    pub fn new(secret: &str, org: &str, list: &str) -> CursorKey {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        for part in [org, list] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        CursorKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self, position: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(position);
        mac
    }

    /// The opaque form given to clients.
    pub fn encode(&self, cursor: &Cursor) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let position = format!("{}:{}", cursor.created_at.0, cursor.id);
        let tag = self.mac(position.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            b64.encode(position),
            b64.encode(&tag[..CURSOR_MAC_BYTES])
        )
    }

    /// Opens a client's cursor; anything not sealed by [`Self::encode`] with this key is a 400
    /// on `cursor`.
    pub fn decode(&self, raw: &str) -> Result<Cursor, ApiError> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bad = || ApiError::invalid("cursor", "is not a cursor returned by this API");
        let (position, tag) = raw.trim().split_once('.').ok_or_else(bad)?;
        let position = b64.decode(position).map_err(|_| bad())?;
        let tag = b64.decode(tag).map_err(|_| bad())?;
        if tag.len() != CURSOR_MAC_BYTES {
            return Err(bad());
        }
        self.mac(&position)
            .verify_truncated_left(&tag)
            .map_err(|_| bad())?;
        let text = String::from_utf8(position).map_err(|_| bad())?;
        let (t, id) = text.split_once(':').ok_or_else(bad)?;
        let created_at = UnixMs(t.parse().map_err(|_| bad())?);
        let id = crate::ids::EventId::parse(id).ok_or_else(bad)?.to_string();
        Ok(Cursor { created_at, id })
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A parsed, validated `GET /events` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventQuery {
    pub limit: u32,
    pub offset: u32,
    pub event_name: Option<String>,
    pub actor_id: Option<String>,
    pub severities: Vec<Severity>,
    pub from: Option<UnixMs>,
    pub to: Option<UnixMs>,
    /// Keyset paging: rows strictly after this position (newest-first order); `offset` is
    /// then ignored.
    pub cursor: Option<Cursor>,
}

/// Deepest `offset` honoured: larger ones are read as this (OFFSET scans stay bounded).
pub const MAX_OFFSET: u32 = 1_000_000;

/// An integer of any size, saturated to `i64` (so `99999999999999999999` clamps like `999999`);
/// `None` when the text is not an integer at all.
fn saturating_int(raw: &str) -> Option<i64> {
    match raw.trim().parse::<i64>() {
        Ok(n) => Some(n),
        Err(e) => match e.kind() {
            IntErrorKind::PosOverflow => Some(i64::MAX),
            IntErrorKind::NegOverflow => Some(i64::MIN),
            _ => None,
        },
    }
}

/// Parses `limit` with the contract's clamping: above max → max, below 1 → 1, non-integer → 400.
pub fn parse_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => {
            let n = saturating_int(s)
                .ok_or_else(|| ApiError::invalid("limit", "must be an integer"))?;
            Ok(n.clamp(1, i64::from(max)) as u32)
        }
    }
}

/// Parses `offset`: a non-negative integer, clamped to [`MAX_OFFSET`].
pub fn parse_offset(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw.map(saturating_int) {
        None => Ok(0),
        Some(Some(n)) if n >= 0 => Ok(n.min(i64::from(MAX_OFFSET)) as u32),
        Some(_) => Err(ApiError::invalid(
            "offset",
            "must be a non-negative integer",
        )),
    }
}

/// A bound from an ISO-8601 timestamp or a bare `YYYY-MM-DD`; a bare date is the start of that
/// UTC day, or with `end_of_day` its last millisecond.
pub fn parse_time_bound(field: &str, raw: &str, end_of_day: bool) -> Result<UnixMs, ApiError> {
    let s = raw.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(UnixMs(dt.timestamp_millis()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or_default();
        return Ok(UnixMs(if end_of_day {
            start + 86_400_000 - 1
        } else {
            start
        }));
    }
    Err(ApiError::invalid(
        field,
        "must be an ISO-8601 timestamp or a YYYY-MM-DD date",
    ))
}

/// Looks a parameter up by its first present alias; two different values for aliases → 400.
pub(crate) fn aliased<'a>(
    params: &'a [(String, String)],
    names: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    let mut found: Option<(&str, &str)> = None;
    for (k, v) in params {
        if let Some(name) = names.iter().find(|n| *n == k) {
            match found {
                Some((other, prev)) if prev != v => {
                    return Err(ApiError::invalid(
                        *name,
                        format!(
                            "conflicts with {other}; give one of {} or make them equal",
                            names.join(" / ")
                        ),
                    ))
                }
                _ => found = Some((name, v.as_str())),
            }
        }
    }
    Ok(found.map(|(_, v)| v).filter(|v| !v.trim().is_empty()))
}

impl EventQuery {
    /// Parses the query string pairs of `GET /events`; `cursors` opens the `cursor` parameter.
    pub fn parse(params: &[(String, String)], cursors: &CursorKey) -> Result<EventQuery, ApiError> {
        let limit = parse_limit(
            aliased(params, &["limit"])?,
            EVENTS_DEFAULT_LIMIT,
            EVENTS_MAX_LIMIT,
        )?;
        let offset = parse_offset(aliased(params, &["offset"])?)?;
        let event_name =
            aliased(params, &["event_type", "event_name"])?.map(|s| s.trim().to_lowercase());
        let actor_id = aliased(params, &["actor_id"])?.map(str::to_string);
        let severities = match aliased(params, &["severity"])? {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| {
                    Severity::parse(s.trim()).ok_or_else(|| {
                        ApiError::invalid("severity", "must be info, low, medium, warning, high or critical (comma list allowed)")
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let from = aliased(params, &["from", "start_date"])?
            .map(|s| parse_time_bound("from", s, false))
            .transpose()?;
        let to = aliased(params, &["to", "end_date"])?
            .map(|s| parse_time_bound("to", s, true))
            .transpose()?;
        let cursor = aliased(params, &["cursor"])?
            .map(|c| cursors.decode(c))
            .transpose()?;
        Ok(EventQuery {
            cursor,
            limit,
            offset,
            event_name,
            actor_id,
            severities,
            from,
            to,
        })
    }

    /// `SELECT … LIMIT/OFFSET` for one page, newest first, and the statement for `total`.
    /// Without an actor filter the total comes from the hourly rollup (`event_counts`,
    /// maintained by triggers) plus exact counts of the partial hours at both edges, so it
    /// costs a few hundred rows instead of every match.
    pub fn page_sql(&self, org: &str, cutoff: UnixMs) -> (Statement, Statement) {
        let lower = self.from.map_or(cutoff, |from| from.max(cutoff));
        let (page, count) =
            self.filter(org, lower)
                .page("events", self.limit, self.offset, self.cursor.as_ref());
        if self.actor_id.is_some() {
            return (page, count);
        }
        (page, self.rollup_total(org, lower))
    }

    fn rollup_total(&self, org: &str, lower: UnixMs) -> Statement {
        let w = HourWindow::new(lower, self.to);
        let mut params = vec![
            SqlParam::Text(org.into()),
            SqlParam::Number(lower.0 as f64),
            SqlParam::Number(w.head_end as f64),
            SqlParam::Number(w.first_hour as f64),
            SqlParam::Number(w.end_hour as f64),
            SqlParam::Number(w.tail_start as f64),
            SqlParam::Number(w.tail_end as f64),
        ];
        let mut extra = String::new();
        if let Some(name) = &self.event_name {
            params.push(SqlParam::Text(name.clone()));
            extra.push_str(&format!(" AND event_name = ?{}", params.len()));
        }
        if !self.severities.is_empty() {
            let list: Vec<&str> = self.severities.iter().map(|s| s.as_str()).collect();
            params.push(SqlParam::Text(
                serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()),
            ));
            extra.push_str(&format!(
                " AND severity IN (SELECT value FROM json_each(?{}))",
                params.len()
            ));
        }
        let sql = format!(
            "SELECT (SELECT count(*) FROM events WHERE org_id = ?1 AND created_at >= ?2 AND created_at < ?3{extra}) \
             + (SELECT coalesce(sum(n), 0) FROM event_counts WHERE org_id = ?1 AND hour >= ?4 AND hour < ?5{extra}) \
             + (SELECT count(*) FROM events WHERE org_id = ?1 AND created_at >= ?6 AND created_at <= ?7{extra}) AS total"
        );
        (sql, params)
    }

    fn filter(&self, org: &str, lower: UnixMs) -> Filter {
        let mut f = Filter::new(org, lower);
        f.le("created_at", self.to);
        f.eq("event_name", self.event_name.as_deref());
        f.eq("actor_id", self.actor_id.as_deref());
        f.any_of(
            "severity",
            &self
                .severities
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
        );
        f
    }
}

const HOUR_MS: i64 = 3_600_000;

/// `[lower, upper]` split into a partial head (`[lower, head_end)`), whole hours
/// (`first_hour..end_hour`, counted from the rollup) and a partial tail
/// (`[tail_start, tail_end]`, empty when `tail_start > tail_end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HourWindow {
    head_end: i64,
    first_hour: i64,
    end_hour: i64,
    tail_start: i64,
    tail_end: i64,
}

impl HourWindow {
    fn new(lower: UnixMs, upper: Option<UnixMs>) -> HourWindow {
        let first_hour = lower.0.div_euclid(HOUR_MS) + i64::from(lower.0.rem_euclid(HOUR_MS) != 0);
        let lower_edge = first_hour * HOUR_MS;
        match upper {
            // No upper bound: every whole hour from the first on, nothing after.
            None => HourWindow {
                head_end: lower_edge,
                first_hour,
                end_hour: i64::MAX / HOUR_MS,
                tail_start: 1,
                tail_end: 0,
            },
            Some(u) => {
                // Hour h is whole when its last millisecond, (h+1)·H − 1, is ≤ upper.
                let end_hour = (u.0 + 1).div_euclid(HOUR_MS).max(first_hour);
                HourWindow {
                    head_end: lower_edge.min(u.0 + 1),
                    first_hour,
                    end_hour,
                    tail_start: (end_hour * HOUR_MS).max(lower_edge),
                    tail_end: u.0,
                }
            }
        }
    }

    /// The same arithmetic over in-memory times: the head, whole hours and tail must count
    /// each time in `[lower, upper]` exactly once (tested against a plain filter).
    #[cfg(test)]
    fn count(&self, lower: i64, times: &[i64]) -> usize {
        let hour = |t: i64| t.div_euclid(HOUR_MS);
        let head = times
            .iter()
            .filter(|&&t| t >= lower && t < self.head_end)
            .count();
        let hours = times
            .iter()
            .filter(|&&t| hour(t) >= self.first_hour && hour(t) < self.end_hour)
            .count();
        let tail = times
            .iter()
            .filter(|&&t| t >= self.tail_start && t <= self.tail_end)
            .count();
        head + hours + tail
    }
}

/// A SQL text with its positional parameters.
pub type Statement = (String, Vec<SqlParam>);

/// The highest `?N` placeholder of a statement. Tests check it equals the parameter count, so
/// no slot is left unbound or unused.
#[cfg(test)]
pub(crate) fn max_placeholder(sql: &str) -> usize {
    let b = sql.as_bytes();
    (0..b.len())
        .filter(|&i| b[i] == b'?')
        .map(|i| {
            sql[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

/// WHERE-clause builder that always starts from `org_id = ?1 AND created_at >= ?2`, so no
/// combination of filters can leave the tenant or the retention window.
pub struct Filter {
    clauses: Vec<String>,
    params: Vec<SqlParam>,
}

impl Filter {
    /// Scoped to `org`, rows at or after `lower`.
    pub fn new(org: &str, lower: UnixMs) -> Filter {
        Filter {
            clauses: vec!["org_id = ?1".into(), "created_at >= ?2".into()],
            params: vec![SqlParam::Text(org.into()), SqlParam::Number(lower.0 as f64)],
        }
    }

    fn push(&mut self, clause: &str, p: SqlParam) {
        self.params.push(p);
        self.clauses
            .push(clause.replace('?', &format!("?{}", self.params.len())));
    }

    /// `column = value` when a value is given. `column` is always a literal from our code.
    pub fn eq(&mut self, column: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.push(&format!("{column} = ?"), SqlParam::Text(v.into()));
        }
    }

    /// `column <= bound` when a bound is given.
    pub fn le(&mut self, column: &str, bound: Option<UnixMs>) {
        if let Some(b) = bound {
            self.push(&format!("{column} <= ?"), SqlParam::Number(b.0 as f64));
        }
    }

    /// `column IN (…)` for a non-empty list, bound as one JSON array whatever its length.
    pub fn any_of(&mut self, column: &str, values: &[&str]) {
        if !values.is_empty() {
            let list = serde_json::to_string(values).unwrap_or_else(|_| "[]".into());
            self.push(
                &format!("{column} IN (SELECT value FROM json_each(?))"),
                SqlParam::Text(list),
            );
        }
    }

    /// One page (newest first) and the total count over `table`.
    /// One page (newest first) and the total count over `table`. The page asks for one row
    /// more than `limit` so the caller knows whether another page exists; with a cursor it
    /// starts after the cursor's row and ignores `offset`. The total ignores the cursor: it
    /// counts every match inside retention.
    pub fn page(
        self,
        table: &str,
        limit: u32,
        offset: u32,
        cursor: Option<&Cursor>,
    ) -> (Statement, Statement) {
        let filter = self.clauses.join(" AND ");
        let count = format!("SELECT count(*) AS total FROM {table} WHERE {filter}");
        let mut page_params = self.params.clone();
        let (after, offset) = match cursor {
            Some(c) => {
                page_params.push(SqlParam::Number(c.created_at.0 as f64));
                page_params.push(SqlParam::Text(c.id.clone()));
                let (t, i) = (page_params.len() - 1, page_params.len());
                (
                    format!(" AND (created_at < ?{t} OR (created_at = ?{t} AND id < ?{i}))"),
                    0,
                )
            }
            None => (String::new(), offset),
        };
        let page = format!(
            "SELECT * FROM {table} WHERE {filter}{after} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {offset}",
            limit + 1
        );
        ((page, page_params), (count, self.params))
    }
}

/// `SELECT` of one row of `table` by id, scoped to the org and retention.
pub fn by_id_sql(table: &str, org: &str, id: &str, cutoff: UnixMs) -> Statement {
    (
        format!("SELECT * FROM {table} WHERE id = ?1 AND org_id = ?2 AND created_at >= ?3"),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Number(cutoff.0 as f64),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::new("test-secret", "org_a", "events")
    }

    fn q(pairs: &[(&str, &str)]) -> Result<EventQuery, ApiError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EventQuery::parse(&owned, &key())
    }

    #[test]
    fn limit_is_clamped_and_must_be_an_integer() {
        assert_eq!(q(&[]).unwrap().limit, 50);
        assert_eq!(q(&[("limit", "500")]).unwrap().limit, 200);
        assert_eq!(q(&[("limit", "0")]).unwrap().limit, 1);
        assert_eq!(q(&[("limit", "-5")]).unwrap().limit, 1);
        assert_eq!(
            q(&[("limit", "ten")]).unwrap_err().details[0].field,
            "limit"
        );
        assert_eq!(
            q(&[("offset", "-1")]).unwrap_err().details[0].field,
            "offset"
        );
        // Integers past i64 clamp like any other large value; only non-integers are refused.
        assert_eq!(q(&[("limit", "99999999999999999999")]).unwrap().limit, 200);
        assert_eq!(q(&[("limit", "-99999999999999999999")]).unwrap().limit, 1);
        assert_eq!(
            q(&[("offset", "99999999999999999999")]).unwrap().offset,
            MAX_OFFSET
        );
        assert_eq!(
            q(&[("offset", "-99999999999999999999")])
                .unwrap_err()
                .details[0]
                .field,
            "offset"
        );
        assert!(q(&[("limit", "1e3")]).is_err());
        assert!(q(&[("limit", "12abc")]).is_err());
    }

    #[test]
    fn both_vocabularies_are_accepted_and_must_agree() {
        assert_eq!(
            q(&[("event_name", "auth.logout")])
                .unwrap()
                .event_name
                .as_deref(),
            Some("auth.logout")
        );
        assert_eq!(
            q(&[("event_type", "Auth.Logout")])
                .unwrap()
                .event_name
                .as_deref(),
            Some("auth.logout")
        );
        assert!(q(&[("event_type", "a.b"), ("event_name", "a.b")]).is_ok());
        assert_eq!(
            q(&[("event_type", "a.b"), ("event_name", "c.d")])
                .unwrap_err()
                .status(),
            400
        );
        let b = q(&[("start_date", "2026-01-30"), ("end_date", "2026-01-30")]).unwrap();
        assert_eq!(b.from.unwrap().iso_millis(), "2026-01-30T00:00:00.000Z");
        assert_eq!(b.to.unwrap().iso_millis(), "2026-01-30T23:59:59.999Z");
        assert_eq!(
            q(&[("from", "2026-01-30T09:15:00.123Z")])
                .unwrap()
                .from
                .unwrap()
                .iso_millis(),
            "2026-01-30T09:15:00.123Z"
        );
        assert_eq!(
            q(&[("from", "yesterday")]).unwrap_err().details[0].field,
            "from"
        );
    }

    #[test]
    fn severity_lists_are_validated() {
        assert_eq!(
            q(&[("severity", "high,critical")]).unwrap().severities,
            vec![Severity::High, Severity::Critical]
        );
        assert_eq!(
            q(&[("severity", "urgent")]).unwrap_err().details[0].field,
            "severity"
        );
    }

    #[test]
    fn sql_is_always_org_and_cutoff_scoped() {
        let query = q(&[
            ("actor_id", "u1"),
            ("severity", "low"),
            ("from", "2020-01-01"),
            ("limit", "10"),
            ("offset", "20"),
        ])
        .unwrap();
        let ((page, params), (count, cparams)) = query.page_sql("org_a", UnixMs(1_000));
        assert!(page.starts_with("SELECT * FROM events WHERE org_id = ?1 AND created_at >= ?2 AND actor_id = ?3 AND severity IN"));
        assert!(
            page.ends_with("ORDER BY created_at DESC, id DESC LIMIT 11 OFFSET 20"),
            "one extra row probes for more"
        );
        assert!(count.contains("org_id = ?1"));
        assert_eq!(params, cparams);
        assert_eq!(params[0], SqlParam::Text("org_a".into()));
        // `from` before the cutoff is raised to the cutoff (2020 < 1970+1s is false, so from wins here).
        assert_eq!(params[1], SqlParam::Number(1_577_836_800_000.0));
        let early = q(&[("from", "1970-01-01")])
            .unwrap()
            .page_sql("o", UnixMs(5_000))
            .0
             .1;
        assert_eq!(
            early[1],
            SqlParam::Number(5_000.0),
            "the effective lower bound is max(from, cutoff)"
        );
        assert_eq!(params.len(), 4);
    }

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let c = Cursor {
            created_at: UnixMs(1_769_764_500_123),
            id: "6ba7b810-9dad-41d1-80b4-00c04fd430c8".into(),
        };
        let sealed = key().encode(&c);
        assert_eq!(key().decode(&sealed).unwrap(), c);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (position, tag) = sealed.split_once('.').unwrap();
        // A hand-made cursor for a real position of the caller's (the old, unsealed form).
        let hand_made = b64.encode(format!("{}:{}", c.created_at.0, c.id));
        let edited = format!(
            "{}.{tag}",
            b64.encode(format!("{}:{}", c.created_at.0 + 1, c.id))
        );
        let mut flipped_tag = b64.decode(tag).unwrap();
        flipped_tag[0] ^= 1;
        let flipped = format!("{position}.{}", b64.encode(flipped_tag));
        let short = format!("{position}.{}", &tag[..8]);
        let other_org = CursorKey::new("test-secret", "org_b", "events").encode(&c);
        let other_list = CursorKey::new("test-secret", "org_a", "alerts").encode(&c);
        let other_secret = CursorKey::new("another-secret", "org_a", "events").encode(&c);
        for bad in [
            "",
            "!!!",
            "bm9jb2xvbg",
            "MTIzOm5vdC1hLXV1aWQ",
            &hand_made,
            &edited,
            &flipped,
            &short,
            &other_org,
            &other_list,
            &other_secret,
        ] {
            assert_eq!(
                key().decode(bad).unwrap_err().details[0].field,
                "cursor",
                "{bad}"
            );
        }
        let query = q(&[("cursor", &sealed), ("offset", "40"), ("limit", "5")]).unwrap();
        let ((page, params), (count, cparams)) = query.page_sql("o", UnixMs(0));
        assert!(
            page.contains("AND (created_at < ?3 OR (created_at = ?3 AND id < ?4))"),
            "{page}"
        );
        assert!(
            page.ends_with("LIMIT 6 OFFSET 0"),
            "the cursor replaces the offset"
        );
        assert_eq!(params.len(), 4);
        assert!(!count.contains("id <"), "the total ignores the cursor");
        assert!(!cparams.contains(&SqlParam::Text(c.id.clone())));
    }

    #[test]
    fn the_hour_split_counts_every_time_exactly_once() {
        // Deterministic pseudo-random times and windows around hour boundaries.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base = 1_769_760_000_000_i64; // an exact hour
        let times: Vec<i64> = (0..2000)
            .map(|_| base + (next() % (30 * HOUR_MS as u64)) as i64)
            .collect();
        let edges = [
            0,
            1,
            HOUR_MS - 1,
            HOUR_MS,
            HOUR_MS + 1,
            5 * HOUR_MS + 123,
            7 * HOUR_MS,
        ];
        let mut cases = 0;
        for &lo in &edges {
            for hi in
                edges
                    .iter()
                    .map(|e| Some(e + 3 * HOUR_MS))
                    .chain([None, Some(lo), Some(lo + 10)])
            {
                for shift in [0, 17 * HOUR_MS / 10] {
                    let lower = base + lo + shift;
                    let upper = hi.map(|h| base + h + shift);
                    let want = times
                        .iter()
                        .filter(|&&t| t >= lower && upper.is_none_or(|u| t <= u))
                        .count();
                    let w = HourWindow::new(UnixMs(lower), upper.map(UnixMs));
                    assert_eq!(
                        w.count(lower, &times),
                        want,
                        "lower {lower} upper {upper:?} {w:?}"
                    );
                    cases += 1;
                }
            }
        }
        assert!(cases > 100);
    }

    #[test]
    fn totals_use_the_rollup_unless_an_actor_is_filtered() {
        let rollup = q(&[("event_type", "auth.login_failed"), ("severity", "medium")])
            .unwrap()
            .page_sql("o", UnixMs(0))
            .1;
        assert!(rollup.0.contains("FROM event_counts"));
        assert!(
            rollup.0.contains("event_name = ?8") && rollup.0.contains("json_each(?9)"),
            "{}",
            rollup.0
        );
        assert_eq!(rollup.1.len(), 9);
        let actor = q(&[("actor_id", "u1")]).unwrap().page_sql("o", UnixMs(0)).1;
        assert!(actor.0.starts_with("SELECT count(*) AS total FROM events"));
    }
}
