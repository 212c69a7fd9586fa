//! What analysts read: stored events (`GET /events`, [`events`]) and the SOC dashboard's data
//! (`GET /ui/mock-data`, [`dashboard`]).

pub mod dashboard;
pub mod event_row;
pub mod events;
