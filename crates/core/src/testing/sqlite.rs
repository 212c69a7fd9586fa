//! D1 for native tests: an in-memory SQLite database with every file of `migrations/` applied
//! in order, answering batches the way D1 does (one transaction; each statement's rows as JSON
//! objects; a failing statement rolls the whole batch back).

use crate::api::sql::{SqlParam, Statement};
use crate::runtime::Db;
use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::Connection;
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};

pub struct SqliteDb {
    conn: RefCell<Connection>,
    /// Fails every batch with a statement containing this text (an outage of that write).
    pub fail_on: RefCell<Option<String>>,
    /// Batches run, for counting round trips.
    pub batches: Cell<usize>,
}

impl SqliteDb {
    /// A fresh database with the schema of `migrations/`.
    pub fn migrated() -> SqliteDb {
        SqliteDb::migrated_before("~")
    }

    /// A fresh database with the migrations whose file names sort before `first` (e.g.
    /// `"0016"`) applied: the schema a running installation had before that migration.
    pub fn migrated_before(first: &str) -> SqliteDb {
        let db = SqliteDb {
            conn: RefCell::new(Connection::open_in_memory().expect("in-memory SQLite")),
            fail_on: RefCell::new(None),
            batches: Cell::new(0),
        };
        for f in migration_files() {
            if file_name(&f).as_str() < first {
                db.apply(&f);
            }
        }
        db
    }

    /// Applies the one migration whose file name starts with `prefix` (e.g. `"0016"`), as
    /// `wrangler d1 migrations apply` would to a filled database.
    pub fn apply_migration(&self, prefix: &str) {
        let mut found = migration_files()
            .into_iter()
            .filter(|f| file_name(f).starts_with(prefix));
        let f = found.next().expect("a migration with that prefix");
        assert!(found.next().is_none(), "one migration per prefix");
        self.apply(&f);
    }

    /// Applies every migration whose file name sorts at or after `first`, in order: what a
    /// deploy applies to a running installation.
    pub fn migrate_from(&self, first: &str) {
        for f in migration_files() {
            if file_name(&f).as_str() >= first {
                self.apply(&f);
            }
        }
    }

    fn apply(&self, file: &std::path::Path) {
        let sql = std::fs::read_to_string(file).expect("a readable migration");
        self.conn
            .borrow()
            .execute_batch(&sql)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }

    /// The rows of one read, outside any batch (for assertions).
    pub fn rows(&self, sql: &str, params: &[SqlParam]) -> Vec<Value> {
        query(&self.conn.borrow(), sql, params).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The first column of the first row of `sql`, as a number.
    pub fn count(&self, sql: &str, params: &[SqlParam]) -> i64 {
        let rows = self.rows(sql, params);
        let first = rows.first().and_then(Value::as_object).expect("a row");
        first
            .values()
            .next()
            .and_then(Value::as_i64)
            .expect("a number")
    }

    /// Runs statements outside the flows under test (seeding).
    pub fn exec(&self, sql: &str, params: &[SqlParam]) {
        self.rows(sql, params);
    }

    /// The plan SQLite chooses for one statement with these bindings: the `detail` of each row
    /// of `EXPLAIN QUERY PLAN`, in order (e.g. `SEARCH events USING INDEX … (org_id=? AND …)`).
    pub fn plan(&self, sql: &str, params: &[SqlParam]) -> Vec<String> {
        self.rows(&format!("EXPLAIN QUERY PLAN {sql}"), params)
            .iter()
            .map(|r| r["detail"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Runs one read to its end: how many rows it answered and how many virtual-machine steps
    /// it took (`SQLITE_STMTSTATUS_VM_STEP`), which grow with the rows it visits — a proxy for
    /// D1's `rows_read`, which vanilla SQLite does not count.
    pub fn steps(&self, sql: &str, params: &[SqlParam]) -> (usize, i64) {
        let conn = self.conn.borrow();
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let bound: Vec<Sql> = params.iter().map(bind).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bound))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut n = 0;
        while rows
            .next()
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .is_some()
        {
            n += 1;
        }
        drop(rows);
        let steps = stmt.get_status(rusqlite::StatementStatus::VmStep);
        (n, i64::from(steps))
    }
}

/// The files of `migrations/`, in the order they apply.
fn migration_files() -> Vec<std::path::PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("migrations/")
        .map(|e| e.expect("a migration").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn bind(p: &SqlParam) -> Sql {
    match p {
        SqlParam::Text(s) => Sql::Text(s.clone()),
        // D1 binds an integral JavaScript number as an integer.
        SqlParam::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Sql::Integer(*n as i64),
        SqlParam::Number(n) => Sql::Real(*n),
        SqlParam::Null => Sql::Null,
    }
}

fn query(conn: &Connection, sql: &str, params: &[SqlParam]) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = conn.prepare(sql)?;
    let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    let bound: Vec<Sql> = params.iter().map(bind).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(bound))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut obj = Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::from(n),
                ValueRef::Real(f) => Value::from(f),
                ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::from(b.to_vec()),
            };
            obj.insert(name.clone(), v);
        }
        out.push(Value::Object(obj));
    }
    Ok(out)
}

impl Db for SqliteDb {
    type Error = String;

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Vec<Value>>, String> {
        self.batches.set(self.batches.get() + 1);
        let fail = self.fail_on.borrow().clone();
        if let Some(text) = fail {
            if statements.iter().any(|(sql, _)| sql.contains(&text)) {
                return Err(format!("injected D1 failure on {text:?}"));
            }
        }
        let mut conn = self.conn.borrow_mut();
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(statements.len());
        for (sql, params) in statements {
            out.push(query(&tx, sql, params).map_err(|e| format!("{e}: {sql}"))?);
        }
        tx.commit().map_err(|e| e.to_string())?;
        Ok(out)
    }

    async fn changes(&self, statements: &[Statement]) -> Result<Vec<u64>, String> {
        self.batches.set(self.batches.get() + 1);
        let mut conn = self.conn.borrow_mut();
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(statements.len());
        for (sql, params) in statements {
            let params: Vec<Sql> = params.iter().map(bind).collect();
            let n = tx
                .execute(sql, rusqlite::params_from_iter(params))
                .map_err(|e| format!("{e}: {sql}"))?;
            out.push(n as u64);
        }
        tx.commit().map_err(|e| e.to_string())?;
        Ok(out)
    }
}
