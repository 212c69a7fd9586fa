//! `/settings/origins` (docs/api.md §2.6): the browser origins an organisation allows. The
//! router requires the admin scope; `src/api/mod.rs` enforces the list on every request.

use crate::api::http::read_body_limited;
use crate::api::Ctx;
use edgesoc_core::access::audit::Change;
use edgesoc_core::access::origins::{self, MAX_ORIGINS};
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::ApiError;
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

/// Fifty origins of a few dozen characters each.
const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Deserialize)]
struct Row {
    authorized_origins: Option<String>,
}

fn answer(ctx: &Ctx, list: &[String]) -> Response {
    let data = json!({"origins": list, "max": MAX_ORIGINS, "enforced": !list.is_empty()});
    ctx.json(
        200,
        &single_envelope(data, meta(&ctx.tenant, ctx.now, None)),
    )
}

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let row: Option<Row> = ctx
        .primary()?
        .one(origins::get_statement(&ctx.tenant.org_id.0))
        .await?;
    let list = origins::from_stored(row.and_then(|r| r.authorized_origins).as_deref());
    Ok(answer(ctx, &list))
}

/// Replaces the list. It applies within the key cache's TTL (docs/api.md §2.2).
pub async fn put(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let list = origins::parse(&body)?;
    let org = &ctx.tenant.org_id.0;
    let change = Change::new("settings.origins.update", None, json!({"origins": list}));
    ctx.global_change(vec![origins::set_statement(org, &list)], change)
        .await?;
    Ok(answer(ctx, &list))
}
