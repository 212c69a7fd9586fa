//! What a handler knows about the request it serves: the caller's organisation, the time, the
//! limiter's verdict once the request is admitted, and D1 — the primary and the organisation's
//! shard (`src/d1/mod.rs`), each bound on first use (`/collect` never touches D1).

use crate::api::http;
use crate::d1::{Primary, Shard};
use crate::limits::group::{self, Claim};
use crate::limits::LimiterClient;
use edgesoc_core::access::audit::{self, Change, Operator};
use edgesoc_core::access::tenant::Tenant;
use edgesoc_core::api::cursor::CursorKey;
use edgesoc_core::api::export::ExportFormat;
use edgesoc_core::api::respond::tenant_headers;
use edgesoc_core::api::sql::Statement;
use edgesoc_core::faults::Faults;
use edgesoc_core::limits::limiter::{LimiterReply, QuotaState};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use std::cell::OnceCell;
use worker::{Context, Env, Response};

/// The cursor secret when the Worker has no `CURSOR_SECRET`: cursors still cannot cross
/// organisations or lists, but anyone who reads this can seal a position in their own rows.
/// Production sets the secret (README, "Production").
const DEFAULT_CURSOR_SECRET: &str = "edgesoc-local-cursor-secret";

thread_local! {
    /// Secrets are fixed for an isolate's lifetime: read once.
    static CURSOR_SECRET: OnceCell<String> = const { OnceCell::new() };
}

/// One authenticated request.
pub struct Ctx {
    env: Env,
    wctx: Context,
    /// Test-only injected faults (`EDGESOC_FAULTS`).
    faults: Faults,
    primary: OnceCell<Primary>,
    shard: OnceCell<Shard>,
    pub tenant: Tenant,
    pub now: UnixMs,
    /// The limiter's verdict, once [`Ctx::admit`] has run.
    limits: Option<LimiterReply>,
    /// The caller's address as Cloudflare saw it (`CF-Connecting-IP`), for the audit log.
    pub client_ip: Option<String>,
}

/// What admission left for the handler to settle.
pub struct Admitted {
    /// Reserved events that did not reach the queue: the request refunds them and fails.
    pub unsent: u64,
}

impl Ctx {
    pub fn new(env: Env, wctx: Context, faults: Faults, tenant: Tenant, now: UnixMs) -> Ctx {
        Ctx {
            env,
            wctx,
            faults,
            primary: OnceCell::new(),
            shard: OnceCell::new(),
            tenant,
            now,
            limits: None,
            client_ip: None,
        }
    }

    /// Who this request's changes are recorded as (docs/api.md §5.11).
    pub fn operator(&self) -> Operator {
        Operator {
            actor: self.tenant.actor(),
            kind: if self.tenant.person.is_some() {
                "access"
            } else if self.tenant.session.is_some() {
                "session"
            } else {
                "key"
            },
            ip: self.client_ip.clone(),
        }
    }

    /// The audit entry of `change`, to put right after its statement in the same batch
    /// (written only if that statement changed a row).
    pub fn audit(&self, change: Change) -> Statement {
        audit::append_statement(&self.tenant.org_id.0, &self.operator(), &change, self.now)
    }

    /// Seals what the batch appended to the audit log. A failure is logged, not answered: the
    /// entries are stored, and the next read of the log seals them.
    pub async fn seal_audit(&self) {
        if let Ok(shard) = self.shard() {
            crate::access::audit::seal_logged(shard, &self.tenant.org_id.0).await;
        }
    }

    /// A change to global tables with its audit entry (`crate::access::audit::global_change`);
    /// answers the rows of `statements`.
    pub async fn global_change(
        &self,
        statements: Vec<Statement>,
        change: Change,
    ) -> Result<Vec<Vec<serde_json::Value>>, ApiError> {
        let handles = (self.primary()?, self.shard()?);
        let who = self.operator();
        crate::access::audit::global_change(
            handles,
            &self.tenant,
            &who,
            statements,
            &change,
            self.now,
        )
        .await
    }

    /// Admits the request through the organisation's limiter: one round trip shared with the
    /// organisation's other requests in flight in this isolate (`limits::group`), which also
    /// reserves `claim`'s events against the monthly quota and sends its queue messages. Over
    /// the rate limit is a 429 here; a refused reservation is left in [`Ctx::limits`] for the
    /// handler to answer.
    pub async fn admit(&mut self, claim: Claim) -> Result<Admitted, ApiError> {
        let org = self.tenant.org_id.clone();
        let settled = group::settle(&self.wctx, &self.env, &org, &self.faults, claim).await;
        let limits = settled.limits?;
        let rate = limits.rate;
        self.limits = Some(limits);
        if let Some(rate) = rate.filter(|r| !r.allowed) {
            let retry_after = rate.retry_after.unwrap_or(1);
            return Err(ApiError::rate_limited(rate.limit.unwrap_or(0), retry_after));
        }
        Ok(Admitted {
            unsent: settled.unsent,
        })
    }

    /// The Worker's bindings and vars.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The limiter's verdict (after [`Ctx::admit`]).
    pub fn limits(&self) -> Option<&LimiterReply> {
        self.limits.as_ref()
    }

    /// The monthly quota as the limiter last reported it.
    pub fn quota(&self) -> Option<&QuotaState> {
        self.limits.as_ref().map(|l| &l.quota)
    }

    /// The primary database: organisations, keys, sessions, members, network lists.
    pub fn primary(&self) -> Result<&Primary, ApiError> {
        if let Some(primary) = self.primary.get() {
            return Ok(primary);
        }
        let primary = Primary::open(&self.env)?;
        Ok(self.primary.get_or_init(|| primary))
    }

    /// The database that holds the organisation's own data (events, logs, rollups, alerts,
    /// destinations, suppressions, settings, agents, the audit log).
    pub fn shard(&self) -> Result<&Shard, ApiError> {
        if let Some(shard) = self.shard.get() {
            return Ok(shard);
        }
        let shard = Shard::of(&self.env, &self.tenant)?;
        Ok(self.shard.get_or_init(|| shard))
    }

    /// The organisation's limiter object (for refunds; admissions go through [`Ctx::admit`]).
    pub fn limiter(&self) -> Result<LimiterClient, ApiError> {
        LimiterClient::for_org(&self.env, &self.tenant.org_id, self.faults.clone())
    }

    /// The key that seals this organisation's cursors for `list` (`"events"`, `"alerts"`).
    pub fn cursors(&self, list: &str) -> CursorKey {
        CURSOR_SECRET.with(|secret| {
            let secret = secret.get_or_init(|| {
                crate::vars::secret(&self.env, "CURSOR_SECRET")
                    .unwrap_or_else(|| DEFAULT_CURSOR_SECRET.to_string())
            });
            CursorKey::new(secret, &self.tenant.org_id.0, list)
        })
    }

    /// Plan, retention, quota and rate-limit headers for this response.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let limits = self.limits.as_ref();
        tenant_headers(
            &self.tenant,
            self.now,
            limits.map(|l| &l.quota),
            limits.and_then(|l| l.rate.as_ref()),
        )
    }

    /// A JSON success response with the tenant headers.
    pub fn json(&self, status: u16, body: &serde_json::Value) -> Response {
        http::json(status, body, &self.headers())
    }

    /// One part of `list`'s export (docs/api.md §5.13): `rows` in `format` (CSV of `columns`),
    /// with `X-Next-Cursor` naming the next part and `X-Export-Rows` this one's row count.
    pub fn export(
        &self,
        format: ExportFormat,
        rows: &[serde_json::Value],
        columns: &[&str],
        next: Option<&str>,
        list: &str,
    ) -> Response {
        let mut headers = self.headers();
        if let Some(next) = next {
            headers.push(("X-Next-Cursor", next.to_string()));
        }
        headers.push(("X-Export-Rows", rows.len().to_string()));
        let file = format!("{list}-{}.{}", self.tenant.org_id.0, format.extension());
        headers.push((
            "Content-Disposition",
            format!("attachment; filename=\"{file}\""),
        ));
        http::text(
            200,
            format.content_type(),
            format.body(rows, columns),
            &headers,
        )
    }
}
