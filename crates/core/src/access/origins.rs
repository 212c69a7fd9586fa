//! Per-organisation authorized origins (docs/api.md §2.6): when an organisation lists the
//! browser origins allowed to call it, a request carrying another `Origin` is refused with 403
//! `ORIGIN_NOT_AUTHORIZED`, and CORS names the caller's origin instead of `*`. An empty list (the
//! default) keeps every origin allowed, as before. Requests without `Origin` (servers, SDKs,
//! shippers) are never affected.

use crate::api::error::ApiError;
use crate::api::sql::{SqlParam, Statement};
use serde_json::Value;

/// Origins an organisation may list.
pub const MAX_ORIGINS: usize = 50;

/// What a request's `Origin` gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No list (or no `Origin`): `Access-Control-Allow-Origin: *`.
    Any,
    /// A listed origin: echoed, with `Vary: Origin`.
    Echo(String),
    /// An origin the list does not hold: 403.
    Refuse,
}

/// One origin as a browser sends it: `scheme://host[:port]`, lowercase, default port dropped;
/// `None` for anything else (a path, a query, credentials, another scheme, `null`).
pub fn normalize(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && !raw.trim().ends_with('/');
    plain.then(|| url.origin().ascii_serialization())
}

/// The verdict for a request from `origin` to an organisation listing `allowed`.
pub fn decide(allowed: &[String], origin: Option<&str>) -> Cors {
    match origin {
        _ if allowed.is_empty() => Cors::Any,
        None => Cors::Any,
        Some(o) => match normalize(o) {
            Some(n) if allowed.contains(&n) => Cors::Echo(o.to_string()),
            _ => Cors::Refuse,
        },
    }
}

/// The stored list (`orgs.authorized_origins`, a JSON array; NULL is empty).
pub fn from_stored(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_default()
}

/// Parses a `PUT /settings/origins` body `{"origins": [...]}`: at most [`MAX_ORIGINS`] origins,
/// each `scheme://host[:port]`, stored normalized and de-duplicated; `[]` allows every origin.
pub fn parse(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::invalid("body", "is not valid JSON"))?;
    let Some(Value::Array(items)) = v.as_object().and_then(|o| o.get("origins")) else {
        return Err(ApiError::invalid(
            "origins",
            "is required: an array of origins",
        ));
    };
    if let Some(k) = v
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .find(|k| *k != "origins")
    {
        return Err(ApiError::invalid(k.clone(), "is not a setting of origins"));
    }
    if items.len() > MAX_ORIGINS {
        return Err(ApiError::invalid(
            "origins",
            format!("lists at most {MAX_ORIGINS} origins"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let n = item.as_str().and_then(normalize).ok_or_else(|| {
            ApiError::invalid(
                format!("origins[{i}]"),
                "must be an origin: http(s)://host[:port], without a path",
            )
        })?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// The organisation's list.
pub fn get_statement(org: &str) -> Statement {
    (
        "SELECT authorized_origins FROM orgs WHERE id = ?1".into(),
        vec![SqlParam::Text(org.into())],
    )
}

/// Replaces the organisation's list (an empty list is stored as NULL).
pub fn set_statement(org: &str, origins: &[String]) -> Statement {
    let stored = if origins.is_empty() {
        SqlParam::Null
    } else {
        SqlParam::Text(Value::from(origins.to_vec()).to_string())
    };
    (
        "UPDATE orgs SET authorized_origins = ?2 WHERE id = ?1".into(),
        vec![SqlParam::Text(org.into()), stored],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_anything_else_is_refused() {
        assert_eq!(
            normalize("https://App.Example.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            normalize("https://example.com:443").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            normalize("http://localhost:5173").as_deref(),
            Some("http://localhost:5173")
        );
        for bad in [
            "https://example.com/",
            "https://example.com/app",
            "https://u:p@example.com",
            "ftp://example.com",
            "null",
            "*",
            "example.com",
            "https://example.com?x=1",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_empty_list_allows_every_origin_and_a_list_only_its_own() {
        assert_eq!(decide(&[], Some("https://evil.example")), Cors::Any);
        let list = vec!["https://app.example.com".to_string()];
        assert_eq!(
            decide(&list, None),
            Cors::Any,
            "servers and SDKs send no Origin"
        );
        assert_eq!(
            decide(&list, Some("https://APP.example.com")),
            Cors::Echo("https://APP.example.com".into())
        );
        assert_eq!(decide(&list, Some("https://evil.example")), Cors::Refuse);
        assert_eq!(decide(&list, Some("null")), Cors::Refuse);
        assert_eq!(
            decide(&list, Some("https://app.example.com.evil.example")),
            Cors::Refuse
        );
    }

    #[test]
    fn a_list_body_names_its_bad_member() {
        assert_eq!(
            parse(br#"{"origins":["https://a.example","https://A.example:443"]}"#).unwrap(),
            vec!["https://a.example".to_string()]
        );
        assert!(parse(br#"{"origins":[]}"#).unwrap().is_empty());
        let e = parse(br#"{"origins":["https://a.example","https://b.example/x"]}"#).unwrap_err();
        assert_eq!(e.details[0].field, "origins[1]");
        assert_eq!(
            parse(br#"{"origin":[]}"#).unwrap_err().details[0].field,
            "origins"
        );
        assert_eq!(
            parse(br#"{"origins":[],"x":1}"#).unwrap_err().details[0].field,
            "x"
        );
        let many: Vec<String> = (0..51).map(|i| format!("https://h{i}.example")).collect();
        let body = serde_json::json!({"origins": many}).to_string();
        assert_eq!(parse(body.as_bytes()).unwrap_err().status(), 400);
        assert_eq!(from_stored(None), Vec::<String>::new());
        let (_, p) = set_statement("o", &[]);
        assert_eq!(p[1], SqlParam::Null);
    }
}
