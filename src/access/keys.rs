//! `/keys` (docs/api.md §5.10): list, create, revoke and rotate the organisation's keys. The
//! router requires the admin scope; the rules and SQL are the core's
//! (`edgesoc_core::access::keys`). A new key is in the answer once and nowhere else.

use crate::api::http::read_body_limited;
use crate::api::Ctx;
use edgesoc_core::access::audit::Change;
use edgesoc_core::access::ids::ApiKey;
use edgesoc_core::access::keys::{self, KeyRow, NewKey, MAX_ACTIVE_KEYS};
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde_json::{json, Value};
use worker::{Request, Response};

/// Key bodies are a name and a few scopes.
const MAX_BODY_BYTES: usize = 4 * 1024;

fn random(buf: &mut [u8]) -> Result<(), ApiError> {
    getrandom::fill(buf).map_err(|e| {
        worker::console_error!("no randomness for a key: {e}");
        ApiError::internal()
    })
}

/// A fresh key and its id.
fn fresh() -> Result<(String, ApiKey, String), ApiError> {
    let raw = keys::new_key(random)?;
    let key = ApiKey::from_header(&raw).ok_or_else(ApiError::internal)?;
    let mut id = [0u8; 8];
    random(&mut id)?;
    Ok((raw, key, keys::key_id(id)))
}

fn too_many() -> ApiError {
    ApiError::conflict(format!(
        "an organisation holds at most {MAX_ACTIVE_KEYS} active keys; revoke one first"
    ))
}

/// The stored key `id` with the new key shown once, and `extra`'s members, as `201`.
async fn created(ctx: &Ctx, id: &str, raw: String, extra: Value) -> Result<Response, ApiError> {
    let row: KeyRow = ctx
        .primary()?
        .one(keys::get_statement(&ctx.tenant.org_id.0, id, ctx.now))
        .await?
        .ok_or_else(ApiError::internal)?;
    let mut data = row.to_api();
    data["key"] = json!(raw);
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    let body = single_envelope(data, meta(&ctx.tenant, ctx.now, None));
    Ok(ctx.json(201, &body))
}

pub async fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let rows: Vec<KeyRow> = ctx
        .primary()?
        .all(keys::list_statement(&ctx.tenant.org_id.0, ctx.now))
        .await?;
    let data: Vec<Value> = rows.iter().map(KeyRow::to_api).collect();
    let body = json!({"success": true, "data": data, "meta": meta(&ctx.tenant, ctx.now, None)});
    Ok(ctx.json(200, &body))
}

pub async fn create(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let new = NewKey::parse(&body)?;
    let (raw, key, id) = fresh()?;
    let org = &ctx.tenant.org_id.0;
    let detail = json!({"name": new.name, "scopes": new.scopes, "prefix": key.shown_prefix(keys::SHOWN_PREFIX_CHARS)});
    let insert = keys::insert_statement(org, &id, &key, &new, &ctx.tenant.actor(), ctx.now);
    let rows = ctx
        .global_change(vec![insert], Change::new("key.create", Some(&id), detail))
        .await?;
    if rows.first().is_none_or(Vec::is_empty) {
        return Err(too_many());
    }
    created(ctx, &id, raw, Value::Null).await
}

/// Revokes a key now. The organisation's last admin key without an expiry is refused (409):
/// it is the only way left to manage keys through the API.
pub async fn revoke(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = keys::parse_key_id(raw_id)?;
    let org = &ctx.tenant.org_id.0;
    let statements = vec![
        keys::get_statement(org, &id, ctx.now),
        keys::revoke_statement(org, &id, ctx.now),
    ];
    let rows = ctx
        .global_change(statements, Change::new("key.revoke", Some(&id), json!({})))
        .await?;
    match (rows.first().is_some_and(|r| !r.is_empty()), rows.get(1).is_some_and(|r| !r.is_empty())) {
        (false, _) => Err(ApiError::not_found("Key")),
        (true, false) => Err(ApiError::conflict(
            "this is the organisation's last admin key; create another admin key before revoking it",
        )),
        (true, true) => {
            let data = json!({"id": id, "revoked": true, "revoked_at": ctx.now.iso_millis()});
            Ok(ctx.json(200, &single_envelope(data, meta(&ctx.tenant, ctx.now, None))))
        }
    }
}

/// Rotates a key: a new key with the same name and scopes (shown once), and the old one
/// working until the overlap ends.
pub async fn rotate(req: &Request, raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let old = keys::parse_key_id(raw_id)?;
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let overlap = keys::parse_overlap(&body)?;
    let org = &ctx.tenant.org_id.0;
    let store = ctx.primary()?;
    let found: Option<KeyRow> = store.one(keys::get_statement(org, &old, ctx.now)).await?;
    if found.is_none() {
        return Err(ApiError::not_found("Key"));
    }
    let (raw, key, id) = fresh()?;
    let [insert, expire] =
        keys::rotate_statements(org, &old, &id, &key, &ctx.tenant.actor(), ctx.now, overlap);
    let detail = json!({"new_key": id, "overlap_seconds": overlap});
    let rows = ctx
        .global_change(
            vec![insert, expire],
            Change::new("key.rotate", Some(&old), detail),
        )
        .await?;
    if rows.get(1).is_none_or(Vec::is_empty) {
        // The old key expired or was revoked meanwhile (nothing stored), or the limit is reached.
        return match store
            .one::<KeyRow>(keys::get_statement(org, &old, ctx.now))
            .await?
        {
            None => Err(ApiError::not_found("Key")),
            Some(_) => Err(too_many()),
        };
    }
    let expires = UnixMs(ctx.now.0 + overlap * 1000);
    let previous = store
        .one::<KeyRow>(keys::get_statement(org, &old, ctx.now))
        .await?
        .map_or_else(
            || json!({"id": old, "expires_at": expires.iso_millis()}),
            |r| r.to_api(),
        );
    created(ctx, &id, raw, json!({"rotated_from": previous})).await
}
