//! LiteSOC's inbound integrations (docs/integrations.md): an Auth0 log stream ([`auth0`]) and a
//! Supabase database webhook ([`supabase`]) become `/collect` events, one per record, and take
//! the `/collect` path from there: the same validation, limits, queue, enrichment and detection.

pub mod auth0;
mod event;
pub mod supabase;

use super::body::{parse_batch, NewEvent};
use crate::api::error::ApiError;

/// Most records one webhook request may carry (its body is at most 1 MiB anyway).
pub const MAX_RECORDS: usize = 1000;

/// Where a webhook comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Auth0,
    Supabase,
}

/// A webhook body's records as validated `/collect` events: mapped by the provider's module,
/// then checked by the `/collect` validator itself, so nothing reaches the queue that
/// `/collect` would refuse.
pub fn parse(provider: Provider, body: &[u8]) -> Result<Vec<NewEvent>, ApiError> {
    let items = match provider {
        Provider::Auth0 => auth0::events(body)?,
        Provider::Supabase => supabase::events(body)?,
    };
    parse_batch(items, MAX_RECORDS)
}

/// The docs' tables, read by the tests that hold the code's tables to them.
#[cfg(test)]
pub(crate) mod doc {
    /// The rows of the docs/integrations.md table headed by `header`, as cells.
    pub fn table(header: &str) -> Vec<Vec<String>> {
        const DOC: &str = include_str!("../../../../../docs/integrations.md");
        let rows: Vec<Vec<String>> = DOC
            .lines()
            .skip_while(|l| l.trim() != header)
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().to_string())
                    .collect()
            })
            .collect();
        assert!(!rows.is_empty(), "no table {header}");
        rows
    }

    /// A cell without its backquotes.
    pub fn unquote(cell: &str) -> String {
        cell.trim().trim_matches('`').to_string()
    }
}
