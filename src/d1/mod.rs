//! The D1 bindings. A statement reaches a database only through one of two handles:
//! [`Primary`] (binding `DB`: organisations, keys, sessions, members, the IP tables, network
//! lists, split requests' commit records) or [`Shard`] (an organisation's events, logs,
//! rollups, alerts and the rest, on the database its registry entry names,
//! `edgesoc_core::shards`). Neither is made from the other, and the store behind them
//! (`store.rs`) cannot be named outside this module. Every statement that touches tenant data
//! is scoped by `org_id` in the core; nothing here builds SQL of its own.

mod store;

use edgesoc_core::access::tenant::Tenant;
use edgesoc_core::api::sql::Statement;
use edgesoc_core::ingest::consume::Delivered;
use edgesoc_core::runtime;
use edgesoc_core::shards::{self, ShardName};
use edgesoc_core::ApiError;
use store::Store;

/// A D1 failure: the database did not answer, or answered rows this build cannot read.
#[derive(Debug)]
pub enum Error {
    /// No such D1 binding: a deployment mistake.
    Binding(String),
    /// D1 refused or failed the statement (outage, limits, constraint): retry later.
    Unavailable(String),
    /// The rows are not what the statement promises (a bug or a schema mismatch).
    Rows(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Binding(e) => write!(f, "D1 binding: {e}"),
            Error::Unavailable(e) => write!(f, "D1 unavailable: {e}"),
            Error::Rows(e) => write!(f, "D1 rows unreadable: {e}"),
        }
    }
}

impl From<Error> for ApiError {
    /// Logs the cause; the client sees 503 (retry) for an outage and 500 otherwise.
    fn from(e: Error) -> ApiError {
        worker::console_error!("{e}");
        match e {
            Error::Unavailable(_) => ApiError::unavailable("D1"),
            Error::Binding(_) | Error::Rows(_) => ApiError::internal(),
        }
    }
}

/// The primary database (binding `DB`): what is global — organisations, keys, sessions,
/// members, the IP tables and network lists.
pub struct Primary(Store);

impl Primary {
    pub fn open(env: &worker::Env) -> Result<Primary, Error> {
        Store::open(env, ShardName::primary()).map(Primary)
    }
}

/// A database that holds organisations' data: the one a tenant names ([`Shard::of`]), the one
/// the registry names for an organisation ([`Shard::named`]), or each in turn ([`shards`]).
pub struct Shard(Store);

thread_local! {
    /// Vars are fixed for an isolate's lifetime: read once.
    static SHARDS: std::cell::OnceCell<Vec<ShardName>> = const { std::cell::OnceCell::new() };
}

/// Reads the shards this Worker serves (once per isolate) and answers `f` of them.
fn with_shards<T>(env: &worker::Env, f: impl FnOnce(&[ShardName]) -> T) -> T {
    SHARDS.with(|cell| {
        f(cell.get_or_init(|| {
            let var = env.var("D1_SHARDS").ok().map(|v| v.to_string());
            let (shards, invalid) = shards::configured(var.as_deref());
            if !invalid.is_empty() {
                worker::console_error!("D1_SHARDS: not binding names, ignored: {invalid:?}");
            }
            shards
        }))
    })
}

/// The shards this Worker serves: `DB`, then the `D1_SHARDS` var's bindings (wrangler.toml).
pub fn shards(env: &worker::Env) -> Vec<ShardName> {
    with_shards(env, <[ShardName]>::to_vec)
}

impl Shard {
    /// The shard that holds `tenant`'s organisation.
    pub fn of(env: &worker::Env, tenant: &Tenant) -> Result<Shard, Error> {
        Shard::named(env, &tenant.shard)
    }

    /// The shard `name`, one of [`shards`] (an organisation registered on any other is an
    /// error, not a silent read of an empty database).
    pub fn named(env: &worker::Env, name: &ShardName) -> Result<Shard, Error> {
        if !name.is_primary() && !with_shards(env, |all| all.contains(name)) {
            return Err(Error::Binding(format!("{name} is not in D1_SHARDS")));
        }
        Store::open(env, name.clone()).map(Shard)
    }

    pub fn name(&self) -> &ShardName {
        self.0.name()
    }
}

/// Queue messages (by index) grouped by the shard of their organisation, which `org_of` reads
/// from a body, and those of organisations being moved: all on the primary when it is the only
/// shard, else as the registry on the primary says (`edgesoc_core::shards::route`; one read).
pub async fn route(
    env: &worker::Env,
    primary: &Primary,
    messages: &[Delivered],
    org_of: fn(&str) -> Option<String>,
) -> Result<shards::Routed, Error> {
    let configured = shards(env);
    if configured.len() == 1 {
        return Ok(shards::Routed {
            groups: vec![(ShardName::primary(), (0..messages.len()).collect())],
            paused: Vec::new(),
        });
    }
    let orgs: Vec<Option<String>> = messages
        .iter()
        .map(|m| m.body.as_deref().and_then(org_of))
        .collect();
    let mut named: Vec<&str> = orgs.iter().flatten().map(String::as_str).collect();
    named.sort_unstable();
    named.dedup();
    let rows: Vec<serde_json::Value> = primary.all(shards::registry_statement(&named)).await?;
    let orgs: Vec<Option<&str>> = orgs.iter().map(Option::as_deref).collect();
    Ok(shards::route(&orgs, &rows, &configured))
}

/// The organisations being moved between shards (none unless the Worker serves several).
pub async fn moving_orgs(env: &worker::Env) -> Result<Vec<String>, Error> {
    if with_shards(env, |all| all.len() == 1) {
        return Ok(Vec::new());
    }
    let rows: Vec<serde_json::Value> = Primary::open(env)?.all(shards::moving_statement()).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect())
}

impl std::ops::Deref for Primary {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

impl std::ops::Deref for Shard {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

/// The core's flows run over either handle as over the store it holds.
macro_rules! db_through_store {
    ($handle:ty) => {
        impl runtime::Db for $handle {
            type Error = Error;

            async fn batch(
                &self,
                statements: &[Statement],
            ) -> Result<Vec<Vec<serde_json::Value>>, Error> {
                runtime::Db::batch(&**self, statements).await
            }

            async fn changes(&self, statements: &[Statement]) -> Result<Vec<u64>, Error> {
                runtime::Db::changes(&**self, statements).await
            }

            fn detecting(&self) {
                runtime::Db::detecting(&**self)
            }
        }
    };
}

db_through_store!(Primary);
db_through_store!(Shard);
