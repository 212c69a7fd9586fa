//! What an organisation may do: its plan and the limits it resolves to ([`plan`]), the
//! per-organisation sliding-window rate limit and monthly quota kept by the limiter Durable
//! Object ([`limiter`]) and what that object stores ([`store`]: one row), and the bookkeeping
//! that lets concurrent requests of one organisation share one limiter call and one queue send
//! ([`group`]).

pub mod group;
pub mod limiter;
pub mod plan;
pub mod round;
pub mod store;
