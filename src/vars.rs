//! The Worker's vars and secrets (`wrangler.toml` `[vars]`, `wrangler secret put`): operational
//! knobs with production defaults. Vars are fixed for an isolate's lifetime.

use worker::Env;

/// An optional positive integer var; unset, unparsable or zero reads as `default`.
pub fn positive_u32(env: &Env, name: &str, default: u32) -> u32 {
    u32_var(env, name).filter(|n| *n > 0).unwrap_or(default)
}

/// An optional integer var, zero included; unset or unparsable reads as `default`.
pub fn u32_or(env: &Env, name: &str, default: u32) -> u32 {
    u32_var(env, name).unwrap_or(default)
}

fn u32_var(env: &Env, name: &str) -> Option<u32> {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
}

/// A secret, falling back to a var of the same name (local `.dev.vars` and tests set vars);
/// `None` when unset or empty.
pub fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.is_empty())
}
