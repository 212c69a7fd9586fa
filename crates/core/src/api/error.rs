//! The one API error type and the contract's error body (docs/api.md §9.7).

use crate::access::scope::Scope;
use serde::Serialize;

/// Error codes of the contract, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    PlanRestricted,
    QuotaExceeded,
    /// The key lacks the route's scope (docs/api.md §2.5).
    InsufficientScope,
    /// A browser origin the organisation does not list (docs/api.md §2.6).
    OriginNotAuthorized,
    /// A change made with a session cookie without its CSRF token (docs/api.md §2.7).
    CsrfTokenInvalid,
    /// The change would break an invariant of what is stored (the last admin key, the key limit).
    Conflict,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Internal,
}

impl ErrorCode {
    /// The HTTP status for this code (`Internal` may also be sent as 503, see [`ApiError::status`]).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::ValidationError => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::PlanRestricted
            | ErrorCode::QuotaExceeded
            | ErrorCode::InsufficientScope
            | ErrorCode::OriginNotAuthorized
            | ErrorCode::CsrfTokenInvalid => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
        }
    }
}

/// One validation problem: which batch item, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Position in the batch; absent for a single event or a query parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// A problem with `field`, not tied to a batch index yet.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            index: None,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same problem, located at batch position `index`.
    pub fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}

/// Every failure a client can see. Internal details never travel in it: they are logged by the
/// adapter and the client gets a generic message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
    pub required_plan: Option<&'static str>,
    /// The scope a 403 `INSUFFICIENT_SCOPE` names.
    pub required_scope: Option<Scope>,
    pub details: Vec<FieldError>,
    /// 503 instead of 500 for `Internal` (a dependency is down and a retry may work).
    pub unavailable: bool,
    /// A 405's `Allow` header: the methods the path does support (RFC 9110 §15.5.6).
    pub allow: Option<String>,
}

impl ApiError {
    /// An error with a code and a message and nothing else.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
            required_plan: None,
            required_scope: None,
            details: Vec::new(),
            unavailable: false,
            allow: None,
        }
    }

    /// 400 naming the problems; the message repeats the first one so flat readers see it.
    pub fn validation(details: Vec<FieldError>) -> Self {
        let message = match details.first() {
            Some(FieldError {
                index: Some(i),
                field,
                message,
            }) => {
                format!("Validation failed: events[{i}].{field}: {message}")
            }
            Some(FieldError {
                index: None,
                field,
                message,
            }) => {
                format!("Validation failed: {field}: {message}")
            }
            None => "Validation failed".to_string(),
        };
        ApiError {
            details,
            ..ApiError::new(ErrorCode::ValidationError, message)
        }
    }

    /// 400 for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::validation(vec![FieldError::new(field, message)])
    }

    pub fn unauthorized() -> Self {
        ApiError::new(ErrorCode::Unauthorized, "Missing or invalid API key")
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// 405 with the path's methods for `Allow` (`HEAD` beside `GET`, and `OPTIONS`, which
    /// every path answers for CORS).
    pub fn method_not_allowed(method: &str, path: &str, allowed: &[&str]) -> Self {
        let mut methods: Vec<&str> = Vec::new();
        for m in allowed {
            methods.push(m);
            if *m == "GET" {
                methods.push("HEAD");
            }
        }
        methods.push("OPTIONS");
        ApiError {
            allow: Some(methods.join(", ")),
            ..ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("Method {method} is not allowed on {path}"),
            )
        }
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::PayloadTooLarge, message)
    }

    /// 415: a body the endpoint cannot read (the Loki push's protobuf or unknown encodings).
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::UnsupportedMediaType, message)
    }

    pub fn rate_limited(limit: u32, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..ApiError::new(
                ErrorCode::RateLimited,
                format!("Rate limit of {limit} requests/minute exceeded"),
            )
        }
    }

    pub fn quota_exceeded(limit: u64, requested: u64, remaining: u64, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "Monthly quota of {limit} events exceeded: {requested} requested, {remaining} remaining"
                ),
            )
        }
    }

    pub fn plan_restricted(feature: &str) -> Self {
        ApiError {
            required_plan: Some("pro"),
            ..ApiError::new(
                ErrorCode::PlanRestricted,
                format!("{feature} requires the Pro plan or above"),
            )
        }
    }

    /// 403: the calling key does not hold `scope` (docs/api.md §2.5).
    pub fn insufficient_scope(scope: Scope) -> Self {
        ApiError {
            required_scope: Some(scope),
            ..ApiError::new(
                ErrorCode::InsufficientScope,
                format!("This key lacks the {} scope", scope.as_str()),
            )
        }
    }

    /// 403: the request's `Origin` is not one the organisation lists (docs/api.md §2.6).
    pub fn origin_not_authorized() -> Self {
        ApiError::new(ErrorCode::OriginNotAuthorized, "Origin not authorized")
    }

    /// 403: a change made with a session cookie lacks its CSRF token (docs/api.md §2.7).
    pub fn csrf_token_invalid() -> Self {
        ApiError::new(
            ErrorCode::CsrfTokenInvalid,
            "Missing or invalid X-CSRF-Token for this session",
        )
    }

    /// 409: the request conflicts with what is stored; `message` says what to do instead.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Conflict, message)
    }

    /// A failure on our side; `message` must not contain internals.
    pub fn internal() -> Self {
        ApiError::new(ErrorCode::Internal, "Internal error")
    }

    /// A dependency (D1, the limiter, the queue) is unavailable: 503 with a retry hint.
    pub fn unavailable(what: &str) -> Self {
        ApiError {
            unavailable: true,
            retry_after: Some(1),
            ..ApiError::new(
                ErrorCode::Internal,
                format!("{what} is temporarily unavailable"),
            )
        }
    }

    /// How long a change waits while its organisation's data moves between databases.
    pub const MOVING_RETRY_SECONDS: u64 = 30;

    /// 503: the organisation's data is being moved to another database (`scripts/move-org`);
    /// changes wait until the move ends, reads are served.
    pub fn moving() -> Self {
        ApiError {
            unavailable: true,
            retry_after: Some(Self::MOVING_RETRY_SECONDS),
            ..ApiError::new(
                ErrorCode::Internal,
                "The organisation's data is being moved to another database; changes resume when it ends",
            )
        }
    }

    /// The headers this error implies: `Retry-After` and `Allow`.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(r) = self.retry_after {
            h.push(("Retry-After", r.to_string()));
        }
        if let Some(a) = &self.allow {
            h.push(("Allow", a.clone()));
        }
        h
    }

    /// The HTTP status to send.
    pub fn status(&self) -> u16 {
        if self.unavailable {
            503
        } else {
            self.code.status()
        }
    }

    /// The contract body: nested `error`, with `code` and `message` copied to the top level.
    pub fn body(&self) -> serde_json::Value {
        let mut inner = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(r) = self.retry_after {
            inner["retry_after"] = r.into();
        }
        if let Some(p) = self.required_plan {
            inner["required_plan"] = p.into();
        }
        if let Some(s) = self.required_scope {
            inner["required_scope"] = s.as_str().into();
        }
        if !self.details.is_empty() {
            inner["details"] = serde_json::to_value(&self.details).unwrap_or_default();
        }
        serde_json::json!({
            "success": false,
            "error": inner,
            "code": self.code,
            "message": self.message,
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_nests_and_copies_code_and_message() {
        let e = ApiError::rate_limited(100, 12);
        assert_eq!(e.status(), 429);
        assert_eq!(
            e.body(),
            json!({"success":false,
                   "error":{"code":"RATE_LIMITED","message":"Rate limit of 100 requests/minute exceeded","retry_after":12},
                   "code":"RATE_LIMITED","message":"Rate limit of 100 requests/minute exceeded"})
        );
    }

    #[test]
    fn validation_details_carry_index_and_field() {
        let e = ApiError::validation(vec![FieldError::new("event", "is required").at(3)]);
        let b = e.body();
        assert_eq!(
            b["error"]["details"],
            json!([{"index":3,"field":"event","message":"is required"}])
        );
        assert_eq!(
            b["message"],
            "Validation failed: events[3].event: is required"
        );
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn a_missing_scope_is_a_403_naming_it_and_a_conflict_a_409() {
        let e = ApiError::insufficient_scope(Scope::Read);
        assert_eq!(e.status(), 403);
        assert_eq!(
            e.body(),
            json!({"success":false,
                   "error":{"code":"INSUFFICIENT_SCOPE","message":"This key lacks the read scope","required_scope":"read"},
                   "code":"INSUFFICIENT_SCOPE","message":"This key lacks the read scope"})
        );
        assert_eq!(ApiError::conflict("no").status(), 409);
        assert_eq!(ApiError::conflict("no").body()["code"], "CONFLICT");
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(ApiError::rate_limited(5, 0).retry_after, Some(1));
        assert_eq!(ApiError::quota_exceeded(10, 2, 0, 0).retry_after, Some(1));
    }

    #[test]
    fn statuses_match_the_contract() {
        assert_eq!(ApiError::plan_restricted("Alerts").status(), 403);
        assert_eq!(
            ApiError::plan_restricted("Alerts").body()["error"]["required_plan"],
            "pro"
        );
        assert_eq!(ApiError::quota_exceeded(1, 1, 0, 5).status(), 403);
        assert_eq!(ApiError::unavailable("D1").status(), 503);
        assert_eq!(ApiError::internal().status(), 500);
        assert_eq!(ApiError::payload_too_large("x").status(), 413);
        assert_eq!(
            ApiError::method_not_allowed("PUT", "/collect", &["POST"]).status(),
            405
        );
        assert_eq!(ApiError::not_found("Route").status(), 404);
        assert_eq!(ApiError::unauthorized().status(), 401);
    }
}
