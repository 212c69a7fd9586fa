//! Which D1 database holds an organisation's data (docs/CAPACITY.md, *Growing past one
//! database*). The primary database, binding `DB`, holds what is global (organisations, keys,
//! sessions, members) and is also the first shard; each organisation's events, logs, rollups,
//! alerts and the rest live on the shard its `orgs.shard` names (NULL: `DB`).

use crate::api::sql::{SqlParam, Statement};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The name of a D1 binding that holds organisations' data: `DB` (the primary) or `DB_` and up
/// to 32 upper-case letters, digits or underscores, as `wrangler.toml` declares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShardName(String);

/// The primary database's binding.
pub const PRIMARY: &str = "DB";

impl ShardName {
    /// The primary database, the shard of every organisation not placed elsewhere.
    pub fn primary() -> ShardName {
        ShardName(PRIMARY.into())
    }

    /// A binding name, if it is one a shard may have.
    pub fn parse(s: &str) -> Option<ShardName> {
        let ok = s == PRIMARY
            || s.strip_prefix("DB_").is_some_and(|rest| {
                (1..=32).contains(&rest.len())
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            });
        ok.then(|| ShardName(s.into()))
    }

    /// The shard an `orgs.shard` value names: NULL or empty is the primary.
    pub fn from_column(value: Option<&str>) -> Option<ShardName> {
        match value.map(str::trim) {
            None | Some("") => Some(ShardName::primary()),
            Some(s) => ShardName::parse(s),
        }
    }

    /// The D1 binding to open.
    pub fn binding(&self) -> &str {
        &self.0
    }

    pub fn is_primary(&self) -> bool {
        self.0 == PRIMARY
    }
}

impl TryFrom<String> for ShardName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ShardName::parse(&s).ok_or_else(|| format!("not a shard binding name: {s:?}"))
    }
}

impl From<ShardName> for String {
    fn from(s: ShardName) -> String {
        s.0
    }
}

impl std::fmt::Display for ShardName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shards new organisations may be placed on: the `D1_SHARDS` var, binding names separated
/// by commas or spaces; the primary always, first. Names that are not binding names are
/// returned apart, for the caller to report.
pub fn configured(var: Option<&str>) -> (Vec<ShardName>, Vec<String>) {
    let mut shards = vec![ShardName::primary()];
    let mut invalid = Vec::new();
    for name in var
        .unwrap_or("")
        .split([',', ' ', '\n', '\t'])
        .filter(|s| !s.is_empty())
    {
        match ShardName::parse(name) {
            Some(s) if !shards.contains(&s) => shards.push(s),
            Some(_) => {}
            None => invalid.push(name.to_string()),
        }
    }
    (shards, invalid)
}

/// What the primary registers for each of `orgs`: `id`, `plan`, `shard`, `moving_to`; one read.
pub fn registry_statement(orgs: &[&str]) -> Statement {
    (
        "SELECT id, plan, shard, moving_to FROM orgs WHERE id IN (SELECT value FROM json_each(?1))"
            .into(),
        vec![SqlParam::Text(Value::from(orgs).to_string())],
    )
}

/// Whether the rows of [`registry_statement`] say `org` is being moved (`orgs.moving_to`).
pub fn is_moving(rows: &[Value], org: &str) -> bool {
    rows.iter()
        .any(|r| r["id"] == org && !r["moving_to"].is_null())
}

/// The organisations being moved (`id`), for maintenance that visits a whole shard.
pub fn moving_statement() -> Statement {
    (
        "SELECT id FROM orgs WHERE moving_to IS NOT NULL".into(),
        Vec::new(),
    )
}

/// A consumer batch's items (by index) as [`route`] placed them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Routed {
    /// Per shard, the items to run there: in the shards' order (unconfigured ones first), each
    /// in the items' order.
    pub groups: Vec<(ShardName, Vec<usize>)>,
    /// Items of organisations being moved (`orgs.moving_to`): they wait in the queue until the
    /// move ends, and are stored on the shard the organisation is then on.
    pub paused: Vec<usize>,
}

/// Groups items (by index) by the shard of their organisation, from the rows of
/// [`registry_statement`]: an item with no organisation, or of an organisation not registered,
/// goes to the primary, which records what cannot be stored as an incident. An organisation
/// registered on a shard not in `configured` keeps that shard (opening it fails, so its items
/// are retried, never stored elsewhere); one whose registered shard is not a binding name is
/// left out of every group (retried); one being moved is paused.
pub fn route(orgs: &[Option<&str>], rows: &[Value], configured: &[ShardName]) -> Routed {
    let registered: BTreeMap<&str, (Option<ShardName>, bool)> = rows
        .iter()
        .filter_map(|r| {
            let shard = ShardName::from_column(r["shard"].as_str());
            Some((r["id"].as_str()?, (shard, !r["moving_to"].is_null())))
        })
        .collect();
    let mut groups: BTreeMap<ShardName, Vec<usize>> = BTreeMap::new();
    let mut paused = Vec::new();
    for (i, org) in orgs.iter().enumerate() {
        let shard = match org.and_then(|o| registered.get(o)) {
            None => ShardName::primary(),
            Some((_, true)) => {
                paused.push(i);
                continue;
            }
            Some((Some(shard), false)) => shard.clone(),
            Some((None, false)) => continue,
        };
        groups.entry(shard).or_default().push(i);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|(s, _)| configured.iter().position(|c| c == s));
    Routed { groups, paused }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str) -> ShardName {
        ShardName::parse(name).unwrap()
    }

    #[test]
    fn only_binding_names_are_shards() {
        for ok in [
            "DB",
            "DB_1",
            "DB_EU_2",
            "DB_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        ] {
            assert!(ShardName::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "db",
            "DB_",
            "DB1",
            "DB_a",
            "DB-1",
            "DB_1 ",
            " DB",
            "LIMITER",
            "ASSETS",
            "DB_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
            "DB_1;DROP",
        ] {
            assert!(ShardName::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(ShardName::from_column(None), Some(ShardName::primary()));
        assert_eq!(ShardName::from_column(Some("")), Some(ShardName::primary()));
        assert_eq!(ShardName::from_column(Some("DB_2")), Some(s("DB_2")));
        assert_eq!(ShardName::from_column(Some("nope")), None);
        assert!(serde_json::from_str::<ShardName>("\"DB_3\"").is_ok());
        assert!(serde_json::from_str::<ShardName>("\"x\"").is_err());
    }

    #[test]
    fn items_go_to_their_organisations_registered_shard_else_the_primary() {
        let configured = [s("DB"), s("DB_1"), s("DB_2")];
        let rows = [
            serde_json::json!({"id": "org_a", "shard": "DB_1"}),
            serde_json::json!({"id": "org_b", "shard": null}),
            serde_json::json!({"id": "org_c", "shard": "DB_9"}),
            serde_json::json!({"id": "org_d", "shard": "DB_2"}),
            serde_json::json!({"id": "org_e", "shard": "elsewhere"}),
            serde_json::json!({"id": "org_f", "shard": "DB_1", "moving_to": "DB_2"}),
        ];
        let orgs = [
            Some("org_a"),
            Some("org_b"),
            None,
            Some("org_a"),
            Some("org_c"),
            Some("org_x"),
            Some("org_d"),
            Some("org_e"),
            Some("org_f"),
        ];
        assert_eq!(
            route(&orgs, &rows, &configured),
            Routed {
                groups: vec![
                    (s("DB_9"), vec![4]),
                    (s("DB"), vec![1, 2, 5]),
                    (s("DB_1"), vec![0, 3]),
                    (s("DB_2"), vec![6]),
                ],
                paused: vec![8],
            },
            "unregistered and undecodable items go to the primary; an unconfigured shard stays \
             itself (its items are retried), an unreadable one is in no group, a moving \
             organisation's wait"
        );
        let (sql, params) = registry_statement(&["org_a", "o'b"]);
        assert!(sql.contains("json_each(?1)"));
        assert_eq!(params, vec![SqlParam::Text(r#"["org_a","o'b"]"#.into())]);
    }

    #[test]
    fn an_organisation_is_moving_while_its_registry_row_names_a_target() {
        let rows = [
            serde_json::json!({"id": "org_a", "plan": "pro", "shard": null, "moving_to": "DB_1"}),
            serde_json::json!({"id": "org_b", "plan": "pro", "shard": "DB_1", "moving_to": null}),
        ];
        assert!(is_moving(&rows, "org_a"));
        assert!(!is_moving(&rows, "org_b"));
        assert!(!is_moving(&rows, "org_gone"));
        assert!(registry_statement(&[]).0.contains("plan, shard, moving_to"));
        assert!(moving_statement().0.contains("moving_to IS NOT NULL"));
    }

    #[test]
    fn the_configured_shards_start_with_the_primary_once() {
        assert_eq!(configured(None), (vec![s("DB")], vec![]));
        assert_eq!(
            configured(Some("DB_1, DB_2,DB,DB_1 bad")),
            (vec![s("DB"), s("DB_1"), s("DB_2")], vec!["bad".to_string()])
        );
    }
}
