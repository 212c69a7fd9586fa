//! Test-only fault injection (see `edgesoc_core::faults` for the names): the spec comes from
//! the `EDGESOC_FAULTS` var, which production never sets, so every check is a cheap miss there.

use edgesoc_core::faults::Faults;
use std::cell::OnceCell;
use worker::Env;

thread_local! {
    /// Vars are fixed for an isolate's lifetime: read once, not on every request.
    static FAULTS: OnceCell<Faults> = const { OnceCell::new() };
}

/// The faults this deployment injects (none in production).
pub fn from_env(env: &Env) -> Faults {
    FAULTS.with(|f| {
        f.get_or_init(|| {
            env.var("EDGESOC_FAULTS")
                .map(|v| Faults::parse(&v.to_string()))
                .unwrap_or_default()
        })
        .clone()
    })
}

/// Whether fault `name` strikes now.
pub fn strikes(faults: &Faults, name: &str) -> bool {
    !faults.is_empty() && faults.strikes(name, js_sys::Math::random())
}
