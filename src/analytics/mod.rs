//! What analysts read: `GET /events` ([`events`]) and the dashboard's data ([`dashboard`]).

pub mod dashboard;
pub mod events;
