//! Bridge from binding failures to the one API error type. Internal details are logged here
//! and never returned to clients.

use edgesoc_core::ApiError;

/// Converts a `worker::Error` (or anything displayable) from a dependency into a client-safe
/// `ApiError`, logging the real cause.
pub trait OrUnavailable<T> {
    /// A dependency failure the client may retry: 503 with `Retry-After`.
    fn or_unavailable(self, what: &str) -> Result<T, ApiError>;
    /// A failure on our side: 500.
    fn or_internal(self, what: &str) -> Result<T, ApiError>;
}

impl<T, E: std::fmt::Display> OrUnavailable<T> for Result<T, E> {
    fn or_unavailable(self, what: &str) -> Result<T, ApiError> {
        self.map_err(|e| {
            worker::console_error!("{what} unavailable: {e}");
            ApiError::unavailable(what)
        })
    }

    fn or_internal(self, what: &str) -> Result<T, ApiError> {
        self.map_err(|e| {
            worker::console_error!("{what} failed: {e}");
            ApiError::internal()
        })
    }
}
