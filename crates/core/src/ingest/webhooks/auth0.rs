//! Auth0 log streams (a custom webhook): each log record becomes one `/collect` event
//! (docs/integrations.md §1).

use super::event::{actor, build, custom, lookup, scalar, Raw, MAX_TEXT};
use super::MAX_RECORDS;
use crate::api::error::ApiError;
use crate::text::shorten;
use serde_json::{Map, Value};

/// Auth0 log type codes by the event each becomes: the table of docs/integrations.md §1.
/// Any other code becomes `auth0.<code>`.
pub const TYPE_EVENTS: &[(&str, &[&str])] = &[
    (
        "auth.login_success",
        &["s", "scoa", "sens", "sepft", "sepotpft"],
    ),
    (
        "auth.login_failed",
        &[
            "f", "fp", "fu", "fc", "fco", "fcoa", "fens", "fepft", "fepotpft",
        ],
    ),
    ("auth.silent_auth_failed", &["fsa"]),
    ("auth.login_warning", &["w"]),
    ("auth.logout", &["slo", "oidc_backchannel_logout_succeeded"]),
    (
        "auth.logout_failed",
        &[
            "flo",
            "oidc_backchannel_logout_failed",
            "federated_logout_failed",
        ],
    ),
    ("auth.password_reset", &["scp", "scpr"]),
    ("auth.password_change_failed", &["fcp", "fcpr"]),
    ("auth.mfa_enabled", &["gd_enrollment_complete"]),
    ("auth.mfa_disabled", &["gd_unenroll", "gd_user_delete"]),
    (
        "auth.mfa_challenge",
        &[
            "mfar",
            "gd_start_auth",
            "gd_send_sms",
            "gd_send_voice",
            "gd_send_pn",
            "gd_send_mail",
        ],
    ),
    (
        "auth.mfa_verified",
        &[
            "gd_auth_succeed",
            "gd_recovery_succeed",
            "seotpft",
            "seoobft",
            "sercft",
        ],
    ),
    (
        "auth.mfa_failed",
        &[
            "gd_auth_failed",
            "gd_auth_rejected",
            "gd_otp_rate_limit_exceed",
            "gd_recovery_failed",
            "gd_recovery_rate_limit_exceed",
            "gd_webauthn_challenge_failed",
            "feotpft",
            "feoobft",
            "fercft",
        ],
    ),
    ("auth.mfa_enrollment_started", &["gd_start_enroll"]),
    (
        "auth.mfa_enrollment_failed",
        &["gd_start_enroll_failed", "gd_webauthn_enrollment_failed"],
    ),
    (
        "auth.mfa_delivery_failed",
        &[
            "gd_send_sms_failure",
            "gd_send_voice_failure",
            "gd_send_pn_failure",
        ],
    ),
    ("auth.mfa_device_updated", &["gd_update_device_account"]),
    ("auth.token_refreshed", &["sertft", "seccft", "ssa"]),
    ("auth.token_issued", &["seacft", "sede", "sd"]),
    (
        "auth.token_exchange_failed",
        &["feacft", "feccft", "fede", "fertft", "ferrt", "fd"],
    ),
    ("auth.token_revoked", &["srrt"]),
    ("auth.signup_failed", &["fs"]),
    ("auth.email_changed", &["sce"]),
    ("auth.email_change_failed", &["fce"]),
    ("auth.username_changed", &["scu"]),
    ("auth.username_change_failed", &["fcu"]),
    ("auth.phone_changed", &["scpn"]),
    ("auth.phone_change_failed", &["fcpn"]),
    ("auth.email_verified", &["sv"]),
    ("auth.email_verification_sent", &["svr"]),
    ("auth.email_verification_failed", &["fv", "fvr"]),
    ("auth.passwordless_sent", &["cs", "cls"]),
    ("auth.invite_accepted", &["si"]),
    ("auth.invite_failed", &["fi"]),
    ("admin.user_created", &["ss"]),
    ("admin.user_deleted", &["du", "sdu"]),
    ("admin.user_delete_failed", &["fdu"]),
    ("admin.settings_changed", &["sapi", "gd_tenant_update"]),
    ("admin.api_operation_failed", &["fapi"]),
    ("admin.connector_failed", &["fcpro", "coff"]),
    ("security.brute_force_detected", &["limit_wc"]),
    ("security.ip_blocked", &["limit_mu"]),
    (
        "security.rate_limit_exceeded",
        &["limit_sul", "api_limit", "limit_ui", "limit_delegation"],
    ),
    ("security.suspicious_activity", &["pwd_leak"]),
    (
        "security.leaked_password_blocked",
        &["signup_pwd_leak", "reset_pwd_leak"],
    ),
    ("security.block_released", &["ublkdu"]),
];

/// Each record of an Auth0 log stream body (a JSON array, JSON lines or one object) as a
/// `/collect` event object, in order. Errors: 400 naming the line or record at fault.
pub fn events(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let records = records(body)?;
    records
        .iter()
        .enumerate()
        .map(|(i, r)| record_event(i, r))
        .collect()
}

/// The event name for an Auth0 type code: the table's, else `auth0.<code>`.
pub fn event_name(code: &str) -> String {
    let code = code.trim().to_ascii_lowercase();
    match lookup(TYPE_EVENTS, &code) {
        Some(name) => name.to_string(),
        None => custom("auth0", &code),
    }
}

/// The records of a body: whitespace-separated JSON values, each a record or an array of them.
fn records(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let mut records = Vec::new();
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(Value::Array(items))) => records.extend(items),
            Some(Ok(record)) => records.push(record),
            Some(Err(e)) => {
                let line = line_at(body, start);
                return Err(ApiError::invalid(
                    format!("line {line}"),
                    format!("malformed JSON: {e}"),
                ));
            }
        }
        if records.len() > MAX_RECORDS {
            return Err(ApiError::invalid(
                "body",
                format!("holds more than {MAX_RECORDS} records"),
            ));
        }
    }
    if records.is_empty() {
        return Err(ApiError::invalid("body", "holds no records"));
    }
    Ok(records)
}

/// The 1-based line where the value after byte `start` (and any whitespace) begins.
fn line_at(body: &[u8], start: usize) -> usize {
    let rest = &body[start..];
    let skipped = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
    1 + body[..start + skipped]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// One record, `{"log_id", "data": {…}}` or a bare log object, as an event.
fn record_event(i: usize, record: &Value) -> Result<Value, ApiError> {
    let Value::Object(rec) = record else {
        return Err(ApiError::invalid(
            format!("[{i}]"),
            "must be a JSON object (a log record)",
        ));
    };
    let (log, field, wrapped) = match rec.get("data") {
        Some(Value::Object(data)) => (data, "data.type", true),
        _ if rec.contains_key("type") => (rec, "type", false),
        _ => (rec, "data.type", false),
    };
    let code = match log.get("type") {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(format!("[{i}].{field}"), "is required"))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                format!("[{i}].{field}"),
                "must be a string",
            ))
        }
    };

    let mut metadata = Map::new();
    metadata.insert("source".into(), "auth0".into());
    metadata.insert("auth0_type".into(), shorten(code, MAX_TEXT).into());
    let log_id = scalar(rec.get("log_id")).or_else(|| scalar(log.get("log_id")));
    for (key, value) in [
        ("description", scalar(log.get("description"))),
        ("connection", scalar(log.get("connection"))),
        ("client_id", scalar(log.get("client_id"))),
        ("client_name", scalar(log.get("client_name"))),
        ("user_agent", scalar(log.get("user_agent"))),
        ("log_id", log_id),
        ("date", scalar(log.get("date"))),
    ] {
        if let Some(v) = value {
            metadata.insert(key.into(), shorten(&v, MAX_TEXT).into());
        }
    }
    let actor = actor(scalar(log.get("user_id")), scalar(log.get("user_name")));
    // In the wrapped form the big values (`details`) are members of `data`, one level down.
    let raw = Raw {
        key: "auth0",
        value: record.clone(),
        depth: usize::from(wrapped),
    };
    Ok(build(
        &event_name(code),
        actor,
        log.get("ip"),
        metadata,
        raw,
    ))
}

#[cfg(test)]
#[path = "auth0_tests.rs"]
mod tests;
