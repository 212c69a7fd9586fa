//! `GET` and `PATCH /settings/detection` (docs/api.md §12.3): the organisation's detection
//! settings (Pro and above; the router gates the plan), validated and merged by the core
//! (`edgesoc_core::detect::settings`). Detection reads them once per batch.

use crate::api::http::read_body_limited;
use crate::api::Ctx;
use edgesoc_core::access::audit::{self, Change};
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::detect::settings::{self, SettingsPatch, SettingsRow};
use edgesoc_core::ApiError;
use serde::Deserialize;
use worker::{Request, Response};

/// A settings patch: a few numbers, at most 250 country codes, a reason.
const MAX_BODY_BYTES: usize = 16 * 1024;

fn answer(ctx: &Ctx, row: Option<&SettingsRow>) -> Response {
    let data = settings::to_api(row);
    ctx.json(
        200,
        &single_envelope(data, meta(&ctx.tenant, ctx.now, None)),
    )
}

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let row: Option<SettingsRow> = ctx
        .shard()?
        .one(settings::get_statement(&ctx.tenant.org_id.0))
        .await?;
    Ok(answer(ctx, row.as_ref()))
}

pub async fn patch(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let patch = SettingsPatch::parse(&body)?;
    let org = &ctx.tenant.org_id.0;
    let rows = ctx
        .shard()?
        .batch(&[
            settings::upsert_statement(org, &patch, &ctx.tenant.actor(), ctx.now),
            ctx.audit(Change::new(
                "settings.detection.update",
                None,
                audit::fields_of(
                    &body,
                    &[
                        "brute_force_ip",
                        "brute_force_account",
                        "travel",
                        "country_blocklist",
                        "reason",
                    ],
                ),
            )),
            settings::get_statement(org),
        ])
        .await?;
    ctx.seal_audit().await;
    let row = rows
        .get(2)
        .and_then(|r| r.first())
        .map(SettingsRow::deserialize)
        .transpose()
        .map_err(|e| {
            worker::console_error!("settings row: {e}");
            ApiError::internal()
        })?;
    Ok(answer(ctx, row.as_ref()))
}
