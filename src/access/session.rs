//! `/session` (docs/api.md §2.7): the dashboard's sign-in. `POST /session` exchanges a key, once,
//! for a session cookie (`HttpOnly; Secure; SameSite=Strict`) and a CSRF token; `GET /session`
//! says who is signed in; `DELETE /session` signs out. Requests then authenticate with the cookie
//! (`super::authenticate`), and `src/api/mod.rs` requires the CSRF token on every change. The
//! cookie's format, the token and the SQL are the core's (`edgesoc_core::access::session`).

use crate::api::http::{self, read_body_limited};
use crate::api::incoming::Incoming;
use crate::api::Ctx;
use crate::d1::{Primary, Shard};
use edgesoc_core::access::audit::{Change, Operator};
use edgesoc_core::access::ids::ApiKey;
use edgesoc_core::access::origins;
use edgesoc_core::access::session::{self, SessionId, ID_BYTES};
use edgesoc_core::access::tenant::{Tenant, TenantRow};
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::api::respond::tenant_headers;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde_json::{json, Value};
use worker::{Context, Env, Response};

/// A sign-in body is one key.
const MAX_BODY_BYTES: usize = 2 * 1024;
/// The secret when the Worker has none: a session still needs its random id to be found in
/// D1, but anyone who reads this can compute a CSRF token. Production sets `SESSION_SECRET`.
const DEFAULT_SECRET: &str = "edgesoc-local-session-secret";

/// The secret that signs cookies and CSRF tokens: `SESSION_SECRET`, else `CURSOR_SECRET`.
pub fn secret(env: &Env) -> String {
    crate::vars::secret(env, "SESSION_SECRET")
        .or_else(|| crate::vars::secret(env, "CURSOR_SECRET"))
        .unwrap_or_else(|| DEFAULT_SECRET.to_string())
}

/// The tenant of a session: from the isolate's cache, else D1. A cached session stops at its
/// expiry; a revoked one (or its key revoked) within the cache's TTL.
pub async fn resolve(env: &Env, id: &SessionId, now: UnixMs) -> Result<Option<Tenant>, ApiError> {
    let hash = id.hash();
    if let Some(t) = super::cached(env, &hash, now) {
        return Ok(Some(t).filter(|t| t.key_usable(now)));
    }
    let store = Primary::open(env)?;
    let row: Option<TenantRow> = store.one(session::tenant_statement(id, now)).await?;
    let Some(row) = row else { return Ok(None) };
    let mut tenant = row.tenant().map_err(|e| {
        worker::console_error!("{e}");
        ApiError::internal()
    })?;
    tenant.session = Some(id.clone());
    super::remember(hash, &tenant, now);
    Ok(Some(tenant))
}

/// Who a session or key is, for `/session` answers; with the CSRF token for a session.
fn whoami(tenant: &Tenant, secret: &str) -> Value {
    let mut data = json!({
        "organization": {"id": tenant.org_id.0, "name": tenant.org_name},
        "actor": tenant.actor(),
        "role": session::role(tenant.scopes),
        "scopes": tenant.scopes,
        "via": if tenant.session.is_some() { "session" } else if tenant.person.is_some() { "access" } else { "key" },
        "expires_at": tenant.key.as_ref().and_then(|k| k.expires_at).map(|t| UnixMs(t).iso_millis()),
    });
    if let Some(token) = session::csrf_for(tenant, secret) {
        data["csrf_token"] = json!(token);
    }
    data
}

/// `POST /session {"key": "…"}`: the key must hold `read`; the session gets its scopes without
/// `ingest`. 201 with the cookie and the CSRF token; 401 for a bad key, 403 for one that cannot
/// read. The sign-in is an audit entry (`session.create`).
pub async fn create(req: Incoming, env: Env, wctx: Context, now: UnixMs) -> Response {
    match sign_in(req, &env, &wctx, now).await {
        Ok(r) => r,
        Err(e) => http::error(&e, &[]),
    }
}

async fn sign_in(
    req: Incoming,
    env: &Env,
    wctx: &Context,
    now: UnixMs,
) -> Result<Response, ApiError> {
    let ip = req.header("CF-Connecting-IP");
    let origin = req.header("Origin");
    let body = read_body_limited(req.into_request().inner(), MAX_BODY_BYTES).await?;
    let key = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_owned))
        .and_then(|k| ApiKey::from_header(&k))
        .ok_or_else(|| ApiError::invalid("key", "is required: the API key to sign in with"))?;
    let tenant = super::resolve(env, wctx, &key, now, &crate::faults::from_env(env))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    // Refusals of a known key carry its organisation's headers, like any other route's.
    let headers = tenant_headers(&tenant, now, None, None);
    if origins::decide(&tenant.origins, origin.as_deref()) == origins::Cors::Refuse {
        return Ok(http::error(&ApiError::origin_not_authorized(), &headers));
    }
    let Some(scopes) = session::scopes_for(tenant.scopes) else {
        let e = ApiError::insufficient_scope(edgesoc_core::access::scope::Scope::Read);
        return Ok(http::error(&e, &headers));
    };
    let key_id = tenant
        .key
        .as_ref()
        .and_then(|k| k.id.clone())
        .ok_or_else(ApiError::internal)?;
    let mut random = [0u8; ID_BYTES];
    getrandom::fill(&mut random).map_err(|e| {
        worker::console_error!("no randomness for a session: {e}");
        ApiError::internal()
    })?;
    let id = SessionId::new(random);
    let org = &tenant.org_id.0;
    let who = Operator {
        actor: tenant.actor(),
        kind: "key",
        ip,
    };
    let change = Change::new(
        "session.create",
        None,
        json!({"role": session::role(scopes), "scopes": scopes}),
    );
    let handles = (&Primary::open(env)?, &Shard::of(env, &tenant)?);
    let insert = session::insert_statement(&id, org, &key_id, scopes, now);
    super::audit::global_change(handles, &tenant, &who, vec![insert], &change, now).await?;
    let secret = secret(env);
    let signed_in = Tenant {
        scopes,
        session: Some(id.clone()),
        key: tenant.key.clone().map(|mut k| {
            k.expires_at = Some(
                k.expires_at
                    .map_or(now.0 + session::TTL_MS, |e| e.min(now.0 + session::TTL_MS)),
            );
            k
        }),
        ..tenant
    };
    let body = single_envelope(whoami(&signed_in, &secret), meta(&signed_in, now, None));
    let cookie = session::set_cookie(&id.cookie_value(&secret));
    let mut headers = headers;
    headers.extend([("Set-Cookie", cookie), ("Cache-Control", "no-store".into())]);
    Ok(http::json(201, &body, &headers))
}

/// `GET /session`: who is calling (a session or a key), with the session's CSRF token.
pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let data = whoami(&ctx.tenant, &secret(ctx.env()));
    let body = single_envelope(data, meta(&ctx.tenant, ctx.now, None));
    let mut headers = ctx.headers();
    headers.push(("Cache-Control", "no-store".into()));
    Ok(http::json(200, &body, &headers))
}

/// `DELETE /session`: ends the calling session (a key has none to end) and clears the cookie.
pub async fn delete(ctx: &Ctx) -> Result<Response, ApiError> {
    if let Some(id) = &ctx.tenant.session {
        ctx.primary()?
            .run(session::revoke_statement(id, ctx.now))
            .await?;
        // This isolate forgets it at once; others within the cache's TTL.
        super::forget(&id.hash());
    }
    let body = single_envelope(
        json!({"signed_out": true}),
        meta(&ctx.tenant, ctx.now, None),
    );
    let mut headers = ctx.headers();
    headers.push(("Set-Cookie", session::clear_cookie()));
    Ok(http::json(200, &body, &headers))
}
