//! `/destinations`: where an organisation's alerts go (Pro and above; the router gates the
//! plan). Each handler reads, validates with the core (`edgesoc_core::alerts::delivery`), runs
//! the core's organisation-scoped statements and answers.

use super::deliver::{self, Fetcher};
use crate::api::http::read_body_limited;
use crate::api::incoming::query_pairs;
use crate::api::Ctx;
use edgesoc_core::access::audit::Change;
use edgesoc_core::access::ids::EventId;
use edgesoc_core::alerts::delivery::deliver::{test_destination, DeliverEnv};
use edgesoc_core::alerts::delivery::destination::{
    self, DestinationPatch, DestinationRow, NewDestination,
};
use edgesoc_core::alerts::delivery::ledger;
use edgesoc_core::alerts::delivery::sign;
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::api::params::{aliased, parse_limit};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde_json::{json, Value};
use worker::{Request, Response};

/// Destination bodies are small: a name, a URL of at most 2 KiB, a few filters.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Attempts listed per page of the delivery log.
const DELIVERIES_DEFAULT_LIMIT: u32 = 50;
const DELIVERIES_MAX_LIMIT: u32 = 200;

/// A destination id from the path: anything that is not one of ours is a 404.
fn destination_id(raw: &str) -> Result<String, ApiError> {
    let id = raw.trim().to_ascii_lowercase();
    let valid =
        id.len() == 36 && id.starts_with("dst_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit());
    valid
        .then_some(id)
        .ok_or_else(|| ApiError::not_found("Destination"))
}

fn new_id() -> String {
    format!("dst_{}", EventId::new_v4().0.simple())
}

fn new_secret() -> Result<String, ApiError> {
    let mut random = [0u8; sign::SECRET_BYTES];
    getrandom::fill(&mut random).map_err(|e| {
        worker::console_error!("no randomness for a signing secret: {e}");
        ApiError::internal()
    })?;
    Ok(sign::new_secret(random))
}

async fn load(ctx: &Ctx, id: &str) -> Result<DestinationRow, ApiError> {
    ctx.shard()?
        .one(destination::get_statement(&ctx.tenant.org_id.0, id))
        .await?
        .ok_or_else(|| ApiError::not_found("Destination"))
}

fn envelope(ctx: &Ctx, data: Value) -> Value {
    single_envelope(data, meta(&ctx.tenant, ctx.now, None))
}

pub async fn create(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let allowed = deliver::settings(ctx.env()).allowed;
    let new = NewDestination::parse(&body, allowed)?;
    let id = new_id();
    let secret = match new.kind {
        destination::Kind::Webhook => Some(new_secret()?),
        _ => None,
    };
    let org = &ctx.tenant.org_id.0;
    // What changed, without the target (a Slack URL or a routing key is a credential).
    let detail = json!({"name": new.name, "kind": new.kind.as_str(), "min_severity": new.min_severity.as_str(),
        "alert_types": new.alert_types, "enabled": new.enabled});
    let rows = ctx
        .shard()?
        .batch(&[
            destination::insert_statement(org, &id, &new, secret.as_deref(), ctx.now),
            ctx.audit(Change::new("destination.create", Some(&id), detail)),
        ])
        .await?;
    if rows.get(1).is_none_or(Vec::is_empty) {
        return Err(ApiError::invalid(
            "destinations",
            format!(
                "an organisation has at most {} destinations",
                destination::MAX_DESTINATIONS
            ),
        ));
    }
    ctx.seal_audit().await;
    let mut data = load(ctx, &id).await?.to_api();
    if let Some(secret) = secret {
        // Shown once: only a hash of it would be safer, but the signature needs the secret.
        data["secret"] = json!(secret);
    }
    Ok(ctx.json(201, &envelope(ctx, data)))
}

pub async fn list(ctx: &Ctx) -> Result<Response, ApiError> {
    let rows: Vec<DestinationRow> = ctx
        .shard()?
        .all(destination::list_statement(&ctx.tenant.org_id.0))
        .await?;
    let data: Vec<Value> = rows.iter().map(DestinationRow::to_api).collect();
    let body = json!({"success": true, "data": data, "meta": meta(&ctx.tenant, ctx.now, None)});
    Ok(ctx.json(200, &body))
}

pub async fn get(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let row = load(ctx, &destination_id(raw_id)?).await?;
    Ok(ctx.json(200, &envelope(ctx, row.to_api())))
}

pub async fn update(req: &Request, raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = destination_id(raw_id)?;
    let row = load(ctx, &id).await?;
    let kind = row.kind().ok_or_else(ApiError::internal)?;
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let patch = DestinationPatch::parse(&body, kind, deliver::settings(ctx.env()).allowed)?;
    let org = &ctx.tenant.org_id.0;
    let changed: Vec<&str> = [
        ("name", patch.name.is_some()),
        ("target", patch.target.is_some()),
        ("min_severity", patch.min_severity.is_some()),
        ("alert_types", patch.alert_types.is_some()),
        ("enabled", patch.enabled.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    let detail = json!({"fields": changed, "enabled": patch.enabled, "name": patch.name,
        "min_severity": patch.min_severity.map(|s| s.as_str())});
    let mut statements = vec![
        destination::update_statement(org, &id, &patch, ctx.now),
        ctx.audit(Change::new("destination.update", Some(&id), detail)),
    ];
    if patch.enabled == Some(false) {
        // Disabling stops what is still pending.
        statements.push(ledger::cancel_destination_statement(org, &id, ctx.now));
    }
    ctx.shard()?.batch(&statements).await?;
    ctx.seal_audit().await;
    let row = load(ctx, &id).await?;
    Ok(ctx.json(200, &envelope(ctx, row.to_api())))
}

pub async fn delete(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = destination_id(raw_id)?;
    let org = &ctx.tenant.org_id.0;
    let rows = ctx
        .shard()?
        .batch(&[
            destination::get_statement(org, &id),
            ledger::cancel_destination_statement(org, &id, ctx.now),
            destination::delete_statement(org, &id),
            ctx.audit(Change::new("destination.delete", Some(&id), json!({}))),
        ])
        .await?;
    if rows.first().is_none_or(Vec::is_empty) {
        return Err(ApiError::not_found("Destination"));
    }
    ctx.seal_audit().await;
    Ok(ctx.json(200, &envelope(ctx, json!({"id": id, "deleted": true}))))
}

pub async fn rotate_secret(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = destination_id(raw_id)?;
    let row = load(ctx, &id).await?;
    if row.kind() != Some(destination::Kind::Webhook) {
        return Err(ApiError::invalid(
            "kind",
            "only a webhook destination has a signing secret",
        ));
    }
    let secret = new_secret()?;
    ctx.shard()?
        .batch(&[
            destination::rotate_statement(&ctx.tenant.org_id.0, &id, &secret, ctx.now),
            ctx.audit(Change::new(
                "destination.rotate_secret",
                Some(&id),
                json!({}),
            )),
        ])
        .await?;
    ctx.seal_audit().await;
    let mut data = load(ctx, &id).await?.to_api();
    data["secret"] = json!(secret);
    Ok(ctx.json(200, &envelope(ctx, data)))
}

/// Sends a test alert now and answers what the receiver did.
pub async fn test(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = destination_id(raw_id)?;
    let row = load(ctx, &id).await?;
    let settings = deliver::settings(ctx.env());
    let mailer = deliver::mailer(ctx.env());
    let now = || UnixMs(js_sys::Date::now() as i64);
    let env = DeliverEnv {
        db: ctx.shard()?,
        http: &Fetcher,
        mailer: mailer.as_ref(),
        settings: &settings,
        now: &now,
    };
    let delivery_id = format!("{id}.test.{}", ctx.now.0);
    let result = test_destination(&env, &row, &delivery_id)
        .await
        .map_err(|e| {
            worker::console_error!("destination test {delivery_id}: {e}");
            ApiError::unavailable("D1")
        })?;
    Ok(ctx.json(200, &envelope(ctx, result)))
}

/// The destination's delivery log: attempts, newest first.
pub async fn deliveries(req: &Request, raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = destination_id(raw_id)?;
    load(ctx, &id).await?;
    let params = query_pairs(req)?;
    let limit = parse_limit(
        aliased(&params, &["limit"])?,
        DELIVERIES_DEFAULT_LIMIT,
        DELIVERIES_MAX_LIMIT,
    )?;
    let rows = ctx
        .shard()?
        .batch(&[ledger::attempts_statement(&ctx.tenant.org_id.0, &id, limit)])
        .await?;
    let data: Vec<Value> = rows.iter().flatten().map(ledger::attempt_view).collect();
    let body = json!({"success": true, "data": data, "meta": meta(&ctx.tenant, ctx.now, Some(DELIVERIES_MAX_LIMIT))});
    Ok(ctx.json(200, &body))
}
