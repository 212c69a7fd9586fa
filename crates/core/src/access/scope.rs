//! What a key may do (docs/api.md §2.5): four scopes, each a set of routes
//! ([`crate::api::route::Route::scope`]). A key holds any non-empty subset; a key stored without
//! scopes (every key made before scopes existed) holds all four, so the official SDKs keep working.

use serde::{Serialize, Serializer};

/// One permission a key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Send events and log lines: `POST /collect`, `POST /loki/api/v1/push`.
    Ingest,
    /// Read events, alerts, logs, the dashboard's data and `/health`.
    Read,
    /// Change an alert's status; create and end suppressions.
    Respond,
    /// Destinations, detection settings and keys.
    Admin,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 4] = [Scope::Ingest, Scope::Read, Scope::Respond, Scope::Admin];

    /// The scope's name on the wire and in D1.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Respond => "respond",
            Scope::Admin => "admin",
        }
    }

    /// A scope by its name (exact, lowercase).
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope: keys stored without scopes, and the bootstrap key.
    pub const ALL: Scopes = Scopes(0b1111);
    /// Only reading: the dashboard's public organisation (`DASHBOARD_PUBLIC_ORG`).
    pub const READ: Scopes = Scopes(1 << 1);

    /// The scopes listed.
    pub fn of(list: &[Scope]) -> Scopes {
        Scopes(list.iter().fold(0, |acc, s| acc | s.bit()))
    }

    /// Whether `scope` is in the set.
    pub fn has(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set holds no scope.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in [`Scope::ALL`]'s order.
    pub fn list(self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| self.has(*s)).collect()
    }

    /// The stored form: the names joined by commas; `None` for [`Scopes::ALL`] (a NULL
    /// `api_keys.scopes`, which also means every scope a later version may add).
    pub fn stored(self) -> Option<String> {
        (self != Scopes::ALL).then(|| {
            self.list()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// From the stored form: NULL is every scope; unknown names grant nothing.
    pub fn from_stored(stored: Option<&str>) -> Scopes {
        match stored {
            None => Scopes::ALL,
            Some(s) => Scopes::of(
                &s.split(',')
                    .filter_map(|x| Scope::parse(x.trim()))
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.list())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips_and_null_is_every_scope() {
        assert_eq!(Scopes::from_stored(None), Scopes::ALL);
        assert_eq!(Scopes::ALL.stored(), None);
        let ingest = Scopes::of(&[Scope::Ingest]);
        assert_eq!(ingest.stored().as_deref(), Some("ingest"));
        let two = Scopes::of(&[Scope::Admin, Scope::Read]);
        assert_eq!(two.stored().as_deref(), Some("read,admin"));
        assert_eq!(Scopes::from_stored(two.stored().as_deref()), two);
        assert!(two.has(Scope::Read) && two.has(Scope::Admin) && !two.has(Scope::Ingest));
    }

    #[test]
    fn unknown_or_empty_stored_names_grant_nothing() {
        assert!(Scopes::from_stored(Some("")).is_empty());
        assert!(Scopes::from_stored(Some("root,ADMIN, write")).is_empty());
        assert_eq!(
            Scopes::from_stored(Some("ingest, bogus")),
            Scopes::of(&[Scope::Ingest])
        );
    }

    #[test]
    fn serializes_as_a_list_of_names() {
        let v = serde_json::to_value(Scopes::of(&[Scope::Respond, Scope::Ingest])).unwrap();
        assert_eq!(v, serde_json::json!(["ingest", "respond"]));
        assert_eq!(Scopes::READ.list(), vec![Scope::Read]);
    }
}
