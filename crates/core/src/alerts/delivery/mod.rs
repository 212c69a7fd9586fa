//! Alert delivery (docs/api.md §11): an organisation's destinations ([`destination`]), where
//! edgesoc may send ([`outbound`]), what each kind receives ([`format`], signed by [`sign`]),
//! the retry schedule ([`policy`]), the ledger that makes a delivered alert final
//! ([`ledger`]), and the flows that enqueue and make attempts ([`deliver`]).
//!
//! Detection plans deliveries in the same transaction as the alerts it writes; they are sent to
//! the delivery queue right after it commits; its consumer makes one attempt per message and
//! schedules the next through the queue. Nothing here sends anything by itself: outbound HTTP
//! and email are the runtime's (`crate::runtime::Http`, `crate::runtime::Mailer`).

pub mod deliver;
pub mod destination;
pub mod format;
pub mod ledger;
pub mod outbound;
pub mod policy;
pub mod sign;
