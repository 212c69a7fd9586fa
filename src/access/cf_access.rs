//! Cloudflare Access sign-in (docs/api.md §2.8): `Cf-Access-Jwt-Assertion` checked against the
//! team's signing keys when `ACCESS_TEAM_DOMAIN` and `ACCESS_AUD` are set (the claims by the core,
//! `edgesoc_core::access::cf_access`; the RS256 signature here, with WebCrypto), and the signed-in
//! e-mail mapped to its organisation and role (`members`). `/members` manages the mapping.

use crate::api::http::read_body_limited;
use crate::api::Ctx;
use crate::d1::Primary;
use edgesoc_core::access::audit::Change;
use edgesoc_core::access::cf_access::{self, AccessConfig, Role};
use edgesoc_core::access::tenant::{CallingKey, Tenant, TenantRow};
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use serde::Deserialize;
use serde_json::{json, Value};
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Env, Request, Response};

/// How long an isolate keeps the team's keys before fetching them again.
const JWKS_TTL_MS: i64 = 10 * 60 * 1000;

thread_local! {
    static JWKS: RefCell<Option<(Value, i64)>> = const { RefCell::new(None) };
}

/// The Access application this Worker sits behind, when configured (a team domain that is not
/// `<team>.cloudflareaccess.com` configures nothing: keys are fetched from Cloudflare only).
pub fn config(env: &Env) -> Option<AccessConfig> {
    let var = |n: &str| env.var(n).ok().map(|v| v.to_string());
    AccessConfig::new(&var("ACCESS_TEAM_DOMAIN")?, &var("ACCESS_AUD")?)
}

/// The team's keys: `ACCESS_JWKS` (a JWKS document, for local tests), else fetched from the
/// team's certs URL and kept [`JWKS_TTL_MS`] (or fetched again when `fresh`).
async fn jwks(env: &Env, cfg: &AccessConfig, now: UnixMs, fresh: bool) -> Result<Value, ApiError> {
    if let Some(local) = env.var("ACCESS_JWKS").ok().map(|v| v.to_string()) {
        return serde_json::from_str(&local).map_err(|_| ApiError::internal());
    }
    let cached = JWKS.with(|j| j.borrow().clone());
    if let Some((keys, _)) = cached.filter(|(_, at)| !fresh && now.0 - at < JWKS_TTL_MS) {
        return Ok(keys);
    }
    let mut res = worker::Fetch::Url(cfg.certs_url().parse().map_err(|_| ApiError::internal())?)
        .send()
        .await
        .map_err(|_| ApiError::unavailable("Cloudflare Access"))?;
    let keys: Value = res
        .json()
        .await
        .map_err(|_| ApiError::unavailable("Cloudflare Access"))?;
    JWKS.with(|j| *j.borrow_mut() = Some((keys.clone(), now.0)));
    Ok(keys)
}

fn js(e: JsValue) -> ApiError {
    worker::console_error!("WebCrypto: {e:?}");
    ApiError::internal()
}

/// Calls `crypto.subtle[method](...args)` and awaits its promise.
async fn subtle_call(subtle: &JsValue, method: &str, args: &Array) -> Result<JsValue, ApiError> {
    let f: Function = Reflect::get(subtle, &method.into())
        .map_err(js)?
        .dyn_into()
        .map_err(js)?;
    let promise: Promise = f.apply(subtle, args).map_err(js)?.dyn_into().map_err(js)?;
    JsFuture::from(promise).await.map_err(js)
}

/// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over `input` with the public `jwk`, by WebCrypto.
async fn verify_rs256(jwk: &Value, input: &[u8], signature: &[u8]) -> Result<bool, ApiError> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(js)?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).map_err(js)?;
    let alg =
        js_sys::JSON::parse(r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#).map_err(js)?;
    let key_data = js_sys::JSON::parse(&jwk.to_string()).map_err(js)?;
    let usages = Array::of1(&"verify".into());
    let import = Array::of5(&"jwk".into(), &key_data, &alg, &JsValue::FALSE, &usages);
    let key = subtle_call(&subtle, "importKey", &import).await?;
    let check = Array::of4(
        &alg,
        &key,
        &Uint8Array::from(signature),
        &Uint8Array::from(input),
    );
    Ok(subtle_call(&subtle, "verify", &check).await?.as_bool() == Some(true))
}

#[derive(Deserialize)]
struct MemberRow {
    #[serde(flatten)]
    tenant: TenantRow,
    role: String,
}

/// The tenant of an Access token: its claims, its signature, then its e-mail's membership.
/// `None` (a 401) for any refusal; the reason is logged. A token already verified is served from
/// the isolate's cache until its expiry.
pub async fn resolve(
    env: &Env,
    cfg: &AccessConfig,
    token: &str,
    now: UnixMs,
) -> Result<Option<Tenant>, ApiError> {
    let hash = cf_access::token_hash(token);
    if let Some(t) = super::cached(env, &hash, now) {
        return Ok(Some(t).filter(|t| t.key_usable(now)));
    }
    let claimed = match cf_access::check(token, cfg, now) {
        Ok(c) => c,
        Err(why) => {
            worker::console_log!("{why}");
            return Ok(None);
        }
    };
    let mut keys = jwks(env, cfg, now, false).await?;
    if cf_access::jwk_for(&keys, &claimed.kid).is_none() {
        keys = jwks(env, cfg, now, true).await?; // the team may have rotated its keys
    }
    let Some(jwk) = cf_access::jwk_for(&keys, &claimed.kid) else {
        worker::console_log!("Access token refused: unknown kid");
        return Ok(None);
    };
    if !verify_rs256(&jwk, claimed.signing_input.as_bytes(), &claimed.signature).await? {
        worker::console_log!("Access token refused: bad signature");
        return Ok(None);
    }
    let store = Primary::open(env)?;
    let row: Option<MemberRow> = store
        .one(cf_access::tenant_statement(&claimed.email))
        .await?;
    let Some(row) = row else {
        worker::console_log!(
            "Access sign-in refused: {} is no organisation's member",
            claimed.email
        );
        return Ok(None);
    };
    let role = Role::parse(&row.role).ok_or_else(ApiError::internal)?;
    let mut tenant = row.tenant.tenant().map_err(|e| {
        worker::console_error!("{e}");
        ApiError::internal()
    })?;
    tenant.scopes = role.scopes();
    tenant.person = Some(claimed.email.clone());
    tenant.key = Some(CallingKey {
        id: None,
        prefix: "access".into(),
        name: Some(claimed.email),
        expires_at: Some(claimed.expires_at),
        last_used_at: Some(now.0),
    });
    super::remember(hash, &tenant, now);
    Ok(Some(tenant))
}

#[derive(Deserialize)]
struct Member {
    email: String,
    role: String,
    created_at: f64,
    created_by: String,
}

pub async fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let rows: Vec<Member> = ctx
        .primary()?
        .all(cf_access::list_statement(&ctx.tenant.org_id.0))
        .await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|m| json!({"email": m.email, "role": m.role, "created_at": UnixMs(m.created_at as i64).iso_millis(), "created_by": m.created_by}))
        .collect();
    let body = json!({"success": true, "data": data, "meta": meta(&ctx.tenant, ctx.now, None)});
    Ok(ctx.json(200, &body))
}

/// Adds a member or changes their role (409 when the e-mail is another organisation's, or the
/// organisation has [`cf_access::MAX_MEMBERS`]).
pub async fn put(req: &Request, raw: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let email = cf_access::parse_member(raw)?;
    let body = read_body_limited(req.inner(), 1024).await?;
    let role = cf_access::parse_role(&body)?;
    let org = &ctx.tenant.org_id.0;
    let upsert = cf_access::upsert_statement(org, &email, role, &ctx.tenant.actor(), ctx.now);
    let change = Change::new("member.put", Some(&email), json!({"role": role.as_str()}));
    let rows = ctx.global_change(vec![upsert], change).await?;
    if rows.first().is_none_or(Vec::is_empty) {
        return Err(ApiError::conflict(
            "this e-mail is another organisation's member, or the organisation has its most members",
        ));
    }
    let data = json!({"email": email, "role": role.as_str()});
    Ok(ctx.json(
        200,
        &single_envelope(data, meta(&ctx.tenant, ctx.now, None)),
    ))
}

pub async fn delete(raw: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let email = cf_access::parse_member(raw)?;
    let org = &ctx.tenant.org_id.0;
    let change = Change::new("member.delete", Some(&email), json!({}));
    let rows = ctx
        .global_change(vec![cf_access::delete_statement(org, &email)], change)
        .await?;
    if rows.first().is_none_or(Vec::is_empty) {
        return Err(ApiError::not_found("Member"));
    }
    let data = json!({"email": email, "deleted": true});
    Ok(ctx.json(
        200,
        &single_envelope(data, meta(&ctx.tenant, ctx.now, None)),
    ))
}
