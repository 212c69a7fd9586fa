//! One D1 binding: runs statements and hands back their rows, each answer counted by the cost
//! meter ([`metered`], `crate::meter`) when that is on. Reached only through the handles of
//! `super` ([`super::Primary`], [`super::Shard`]): this module is private, so no code outside
//! `src/d1/` can name a [`Store`] or take one in place of a handle.

use super::Error;
use edgesoc_core::api::sql::{SqlParam, Statement};
use edgesoc_core::runtime;
use edgesoc_core::shards::ShardName;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

fn unavailable(e: worker::Error) -> Error {
    Error::Unavailable(e.to_string())
}

fn unreadable(e: worker::Error) -> Error {
    Error::Rows(e.to_string())
}

/// Typed access to one D1 binding, reached through [`Primary`] or [`Shard`].
pub struct Store {
    db: D1Database,
    /// The binding it opened (the meter's time per database; a shard's name).
    name: ShardName,
}

fn js_params(params: &[SqlParam]) -> Vec<JsValue> {
    params
        .iter()
        .map(|p| match p {
            SqlParam::Text(s) => JsValue::from_str(s),
            SqlParam::Number(n) => JsValue::from_f64(*n),
            SqlParam::Null => JsValue::NULL,
        })
        .collect()
}

#[derive(Deserialize)]
struct Total {
    total: f64,
}

/// Counts a statement's answer on `binding` for the cost meter (nothing to do when the meter is
/// off).
fn metered<'a>(binding: &str, result: &'a D1Result, sql: &str) -> &'a D1Result {
    if crate::meter::active() {
        let meta = result.meta().ok().flatten();
        crate::meter::count(
            binding,
            meta.as_ref().and_then(|m| m.rows_read),
            meta.as_ref().and_then(|m| m.rows_written),
            meta.as_ref().and_then(|m| m.duration),
            edgesoc_core::logs::rollups::is_catch_up(sql),
        );
    }
    result
}

impl Store {
    pub(super) fn open(env: &worker::Env, name: ShardName) -> Result<Self, Error> {
        match env.d1(name.binding()) {
            Ok(db) => Ok(Store { db, name }),
            Err(e) => Err(Error::Binding(format!("{name}: {e}"))),
        }
    }

    /// The binding this store opened.
    pub(super) fn name(&self) -> &ShardName {
        &self.name
    }

    fn prepare(&self, (sql, params): &Statement) -> Result<D1PreparedStatement, Error> {
        self.db
            .prepare(sql.as_str())
            .bind(&js_params(params))
            .map_err(unreadable)
    }

    /// One page of rows and the total match count, in a single D1 round trip.
    pub async fn page<T: DeserializeOwned>(
        &self,
        statements: (Statement, Statement),
    ) -> Result<(Vec<T>, u64), Error> {
        self.page_after(Vec::new(), statements).await
    }

    /// [`Store::page`] after `before` (statements that return no rows, such as a catch-up of
    /// the counts the total reads), in the same round trip and transaction.
    pub async fn page_after<T: DeserializeOwned>(
        &self,
        before: Vec<Statement>,
        (page, count): (Statement, Statement),
    ) -> Result<(Vec<T>, u64), Error> {
        let mut statements = before;
        statements.extend([page, count]);
        let results = self.results(&statements).await?;
        for (r, (sql, _)) in results.iter().zip(&statements) {
            metered(self.name.binding(), r, sql);
        }
        let [.., page, count] = results.as_slice() else {
            return Err(Error::Rows(
                "a page's batch did not answer its two statements".into(),
            ));
        };
        let rows: Vec<T> = page.results().map_err(unreadable)?;
        let total = count
            .results::<Total>()
            .map_err(unreadable)?
            .first()
            .map_or(0, |t| t.total as u64);
        Ok((rows, total))
    }

    /// The first row of a statement (one that answers at most one row), if any. Read with
    /// `all()`, which runs the same query as `first()` and also answers its `meta`.
    pub async fn one<T: DeserializeOwned>(&self, statement: Statement) -> Result<Option<T>, Error> {
        Ok(self.all(statement).await?.into_iter().next())
    }

    /// Every row of a statement.
    pub async fn all<T: DeserializeOwned>(&self, statement: Statement) -> Result<Vec<T>, Error> {
        let result = self.prepare(&statement)?.all().await.map_err(unavailable)?;
        metered(self.name.binding(), &result, &statement.0)
            .results()
            .map_err(unreadable)
    }

    /// Runs one write statement and returns how many rows it changed.
    pub async fn run(&self, statement: Statement) -> Result<u64, Error> {
        let result = self.prepare(&statement)?.run().await.map_err(unavailable)?;
        Ok(metered(self.name.binding(), &result, &statement.0)
            .meta()
            .ok()
            .flatten()
            .and_then(|m| m.changes)
            .unwrap_or(0) as u64)
    }

    /// Runs one statement and returns its rows unconverted (each a JS array of the column
    /// values), so a large result can be converted one row at a time (`intel::lists::reload`).
    /// D1's `raw()` answers no `meta`: the meter counts the statement with no rows.
    pub async fn raw_rows(&self, statement: &Statement) -> Result<Vec<JsValue>, Error> {
        let rows = self
            .prepare(statement)?
            .raw_js_value()
            .await
            .map_err(unavailable)?;
        crate::meter::count(self.name.binding(), None, None, None, false);
        Ok(rows)
    }

    /// Runs statements as one D1 batch (one transaction, one round trip) and returns each
    /// statement's rows as JSON objects.
    pub async fn batch(
        &self,
        statements: &[Statement],
    ) -> Result<Vec<Vec<serde_json::Value>>, Error> {
        self.results(statements)
            .await?
            .iter()
            .zip(statements)
            .map(|(r, (sql, _))| {
                metered(self.name.binding(), r, sql)
                    .results::<serde_json::Value>()
                    .map_err(unreadable)
            })
            .collect()
    }

    /// Runs statements as one D1 batch and answers D1's result of each.
    async fn results(&self, statements: &[Statement]) -> Result<Vec<D1Result>, Error> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = statements
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>, _>>()?;
        self.db.batch(prepared).await.map_err(unavailable)
    }
}

impl runtime::Db for Store {
    type Error = Error;

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Vec<serde_json::Value>>, Error> {
        Store::batch(self, statements).await
    }

    async fn changes(&self, statements: &[Statement]) -> Result<Vec<u64>, Error> {
        Ok(self
            .results(statements)
            .await?
            .iter()
            .zip(statements)
            .map(|(r, (sql, _))| {
                metered(self.name.binding(), r, sql)
                    .meta()
                    .ok()
                    .flatten()
                    .and_then(|m| m.changes)
                    .unwrap_or(0) as u64
            })
            .collect())
    }

    fn detecting(&self) {
        crate::meter::detection();
    }
}
