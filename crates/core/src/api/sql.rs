//! SQL as the core hands it to D1: statements with positional parameters, and the WHERE
//! builder every list query starts from, scoped to one organisation and its retention.

use crate::api::cursor::Cursor;
use crate::time::UnixMs;

/// A value bound to a `?N` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    /// Numbers travel as f64 (D1 has no BigInt); ms timestamps stay exact below 2^53.
    Number(f64),
    Null,
}

/// The largest JSON array bound as one parameter (expanded by `json_each`): below D1's 2 MB
/// value limit with headroom.
pub const MAX_BOUND_JSON_BYTES: usize = 1_500_000;

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

    /// A fixed condition, always a literal from our code.
    pub fn condition(&mut self, clause: &'static str) {
        self.clauses.push(clause.into());
    }

    /// A condition with one parameter at its `?`, always a literal from our code.
    pub fn condition_with(&mut self, clause: &'static str, p: SqlParam) {
        self.push(clause, p);
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

    /// One page (newest first) and the total count over `table` (a table name, or one with an
    /// `INDEXED BY` clause when the caller names the index both must walk). The page asks for
    /// one row more than `limit` so the caller knows whether another page exists; with a cursor
    /// it starts after the cursor's row and ignores `offset`. The total ignores the cursor: it
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
                // "Before (t, i)" as a range on `created_at` and a test of the rows at its end:
                // written as one OR, it let SQLite with statistics search both halves apart
                // (MULTI-INDEX OR) and sort every earlier match instead of stopping at the page.
                (
                    format!(" AND created_at <= ?{t} AND (created_at < ?{t} OR id < ?{i})"),
                    0,
                )
            }
            None => (String::new(), offset),
        };
        let page = format!(
            "SELECT {} FROM {table} WHERE {filter}{after} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {offset}",
            columns(table),
            limit + 1
        );
        ((page, page_params), (count, self.params))
    }
}

/// The columns a page or a by-id read of `table` answers: every column, except for `events`,
/// whose rows also hold their dashboard log item (migrations/0019_events_stored_once.sql),
/// which no API response shows: only the event's own columns ([`EVENT_COLUMNS`]), so D1 hands
/// the Worker no field it would convert and drop.
fn columns(table: &str) -> &'static str {
    if table == "events" || table.starts_with("events ") {
        EVENT_COLUMNS
    } else {
        "*"
    }
}

/// The columns of an event as the API reads it (`crate::analytics::event_row::EventRow`): every
/// column but those of its dashboard log item; the consumer's insert writes them in this order
/// (`crate::ingest::record`).
pub const EVENT_COLUMNS: &str = "id, org_id, event_name, category, severity, instant_alert, actor_id, \
actor_email, user_ip, server_ip, country_code, city, latitude, longitude, is_vpn, is_tor, is_proxy, \
is_datacenter, threat_score, forensics, metadata, created_at";

/// `SELECT` of one row of `table` by id, scoped to the org and retention.
pub fn by_id_sql(table: &str, org: &str, id: &str, cutoff: UnixMs) -> Statement {
    (
        format!(
            "SELECT {} FROM {table} WHERE id = ?1 AND org_id = ?2 AND created_at >= ?3",
            columns(table)
        ),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Number(cutoff.0 as f64),
        ],
    )
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "sql_tests.rs"]
mod tests;
