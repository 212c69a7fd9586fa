//! Helpers shared by the fuzz targets: splitting one input into fields, and the checks every
//! target applies to API errors and SQL statements.

use edgesoc_core::api::error::{ApiError, ErrorCode};
use edgesoc_core::api::sql::Statement;

/// Field separator of multi-input targets: ASCII unit separator (0x1F). A seed with no
/// separator is one field; missing fields count as absent.
pub const SEP: u8 = 0x1f;

/// The fields of `data`, split on [`SEP`].
pub fn fields(data: &[u8]) -> Vec<&[u8]> {
    data.split(|b| *b == SEP).collect()
}

/// Field `i` as text (lossy UTF-8), or `None` when the input has fewer fields.
pub fn field(fields: &[&[u8]], i: usize) -> Option<String> {
    fields
        .get(i)
        .map(|f| String::from_utf8_lossy(f).into_owned())
}

/// An error a client can be sent: one of `allowed` statuses, the code matching the status,
/// a non-empty message, and for a 400 at least one (and at most 100) named details.
pub fn check_error(err: &ApiError, allowed: &[u16]) {
    let status = err.status();
    assert!(
        allowed.contains(&status),
        "status {status} not in {allowed:?}: {err:?}"
    );
    assert!(!err.message.is_empty(), "empty message: {err:?}");
    if status == 400 {
        assert_eq!(err.code, ErrorCode::ValidationError, "{err:?}");
        assert!(!err.details.is_empty(), "400 without details: {err:?}");
        assert!(err.details.len() <= 100, "too many details: {err:?}");
        for d in &err.details {
            assert!(!d.field.is_empty(), "detail without field: {err:?}");
            assert!(!d.message.is_empty(), "detail without message: {err:?}");
        }
    }
}

/// Every `?N` placeholder of the SQL has a parameter, and every parameter is used.
pub fn check_statement((sql, params): &Statement) {
    let bytes = sql.as_bytes();
    let mut used = vec![false; params.len()];
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'?' {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            let n: usize = sql[start..end]
                .parse()
                .unwrap_or_else(|_| panic!("bare ? in SQL: {sql}"));
            assert!(
                (1..=params.len()).contains(&n),
                "?{n} without a parameter ({} bound): {sql}",
                params.len()
            );
            used[n - 1] = true;
            i = end;
        } else {
            i += 1;
        }
    }
    assert!(used.iter().all(|u| *u), "unused parameters {used:?}: {sql}");
}
