//! The history statements ([`super::sql`]) on real SQLite with every migration applied. Rows
//! are stored exactly at each read's edges — `since - 1`, `since`, `since + 1`, the trigger's
//! own millisecond (`until`) and `until + 1` — and each test names the rows every statement
//! returns and the history they become. `tests.rs` drives the rounds against an in-memory model
//! of the SQL, so only these tests fail when a comparator in the SQL itself is flipped.

use super::*;
use crate::access::ids::{EventId, OrgId};
use crate::api::sql::MAX_BOUND_JSON_BYTES;
use crate::detect::{history_request, DetectionConfig, RATE_LIMIT_NAME, SUCCESSFUL_LOGIN_NAME};
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::limits::plan::Plan;
use crate::logs::{event_row, item_id};
use crate::runtime::Db;
use crate::testing::{run, store, SqliteDb};
use serde_json::{Map, Value};

/// The trigger's time (2026-01-30T09:15:00Z).
const T: i64 = 1_769_764_500_000;
const DAY: i64 = 86_400_000;
const ORG: &str = "org_a";
const OTHER_ORG: &str = "org_b";
const IP: &str = "203.0.113.9";
const ACTOR: &str = "alice";
const FAILED: &str = "auth.login_failed";

/// A migrated database and the label of every row stored in it, by item id.
struct Seeded {
    db: SqliteDb,
    names: BTreeMap<String, String>,
    next: u128,
}

impl Seeded {
    fn new() -> Seeded {
        Seeded {
            db: SqliteDb::migrated(),
            names: BTreeMap::new(),
            next: 0,
        }
    }

    /// An event of `org` (not stored yet): `name` at `at`, from `ip` by `actor`.
    fn record(&mut self, org: &str, name: &str, at: i64, ip: &str, actor: &str) -> EventRecord {
        self.next += 1;
        EventRecord::assign(
            NewEvent {
                event_name: name.into(),
                actor_id: Some(actor.into()),
                actor_email: None,
                user_ip: Some(ip.into()),
                metadata: Map::new(),
            },
            &OrgId(org.into()),
            EventId(uuid::Uuid::from_u128(self.next)),
            UnixMs(at),
            None,
        )
    }

    /// Stores `r` as the queue consumer does (the event and its log item), named `label`.
    fn add(&mut self, label: &str, r: &EventRecord) {
        self.names.insert(r.id.to_string(), label.into());
        store(&self.db, std::slice::from_ref(r));
    }

    /// Stores a raw `login_failure` log line (not an event) of `org` at `at`, named `label`;
    /// its item id is `<row id>-<unix seconds>`.
    fn line(&mut self, label: &str, org: &str, at: i64, ip: &str, user: &str) {
        let mut row = event_row(&self.record(org, FAILED, at, ip, user));
        (row.event_id, row.event_name) = (None, None);
        row.geo = Some(format!("country of {label}"));
        self.store_line(label, row);
    }

    /// Stores a raw `login_success` line of `user` at `at`, named `label`, located and with a
    /// device of its own (both named after `label`), as the push stores an enriched line that
    /// `parser` read (`None`: the keyword rules).
    fn login_line(
        &mut self,
        label: &str,
        org: &str,
        at: i64,
        user: &str,
        parser: Option<&'static str>,
    ) {
        let mut row = event_row(&self.record(org, SUCCESSFUL_LOGIN_NAME, at, IP, user));
        (row.event_id, row.event_name) = (None, None);
        row.log_type = crate::logs::classify::LogType::LoginSuccess;
        row.detail.parser = parser;
        row.geo = Some(format!("country of {label}"));
        row.device = Some(format!("device of {label}"));
        (row.detail.latitude, row.detail.longitude) = (Some(-33.87), Some(151.21));
        row.detail.city = Some(format!("city of {label}"));
        row.vpn = Some(true);
        let d = &mut row.detail;
        (d.asn, d.is_tor) = (Some(64_512), Some(false));
        (d.is_proxy, d.is_datacenter) = (Some(false), Some(true));
        self.store_line(label, row);
    }

    fn store_line(&mut self, label: &str, row: crate::logs::LogRow) {
        let at = row.ts;
        let inserts = crate::logs::insert_statements(&[row], true, MAX_BOUND_JSON_BYTES).unwrap();
        let returned = run(self.db.batch(&inserts)).unwrap();
        let row = returned.iter().flatten().next().expect("the inserted row");
        let id = row["id"].as_i64().expect("a row id");
        self.names.insert(item_id(id, at), label.into());
    }

    fn name(&self, id: &str) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("unknown row {id}"))
    }

    /// Runs the history reads of `trigger` (Pro plan, default rules) on SQLite: the rows each
    /// statement returned, named and sorted, per part; and the history assembled from them.
    fn read(&self, trigger: &EventRecord) -> (BTreeMap<Part, Vec<String>>, History) {
        let event = DetectionEvent::from_record(trigger);
        let request = history_request(&event, Plan::Pro, &DetectionConfig::default());
        let mut reads = HistoryReads::new(vec![(event, trigger.org_id.0.clone(), request)]);
        let statements = reads.statements();
        let rows = run(self.db.batch(&statements)).unwrap();
        let mut returned = BTreeMap::new();
        for (part, rows) in reads.handed.iter().zip(&rows) {
            assert_eq!(rows.len(), 1, "one row per read");
            let text = rows[0]["rows"].as_str().unwrap_or("[]");
            let items: Vec<Value> = serde_json::from_str(text).unwrap();
            let mut names: Vec<String> = items
                .iter()
                .map(|item| {
                    let id = match part {
                        Part::ActorLogins => &item["id"],
                        Part::ActorCountries | Part::ActorDevices => &item[2],
                        _ => &item[0],
                    };
                    self.name(id.as_str().expect("an id"))
                })
                .collect();
            names.sort();
            returned.insert(*part, names);
        }
        reads.absorb(rows).unwrap();
        assert!(
            reads.statements().is_empty(),
            "one event's reads complete in one round"
        );
        let (_, history) = reads.into_histories().pop().unwrap();
        (returned, history)
    }

    fn names<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = ids.into_iter().map(|id| self.name(id)).collect();
        out.sort();
        out
    }
}

/// The country (upper-cased) and device of each sighting in `history` are its own row's (both
/// named after its label).
fn values_are_their_rows_own(s: &Seeded, history: &History) {
    for x in history.actor_countries.iter().chain(&history.actor_devices) {
        assert!(
            x.value
                .to_lowercase()
                .ends_with(&s.name(&x.event_id).to_lowercase()),
            "{} for {}",
            x.value,
            s.name(&x.event_id)
        );
    }
}

fn sorted(labels: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
    out.sort();
    out
}

/// `labels` plus the trigger itself: a read ends at the trigger's own millisecond, so its own
/// row comes back (the rules then leave it out).
fn with_trigger(labels: &[&str]) -> Vec<String> {
    let mut all = labels.to_vec();
    all.push("trigger");
    sorted(&all)
}

#[test]
fn failed_login_reads_return_exactly_the_rows_of_their_windows() {
    let config = DetectionConfig::default();
    let ip_since = T - config.brute_force_ip.window_ms();
    let actor_since = T - config.brute_force_account.window_ms();
    let mut s = Seeded::new();
    for (label, at) in [
        ("actor since-1", actor_since - 1),
        ("actor since", actor_since),
        ("actor since+1", actor_since + 1),
        ("ip since-1", ip_since - 1),
        ("ip since", ip_since),
        ("ip since+1", ip_since + 1),
        ("same ms", T),
        ("after", T + 1),
    ] {
        let r = s.record(ORG, FAILED, at, IP, ACTOR);
        s.add(label, &r);
    }
    // A raw line exactly at the IP window's start counts like an event (item id `<row>-<s>`).
    s.line("line at ip since", ORG, ip_since, IP, ACTOR);
    // The same key in another organisation, and another key, at the same edges: never read.
    for at in [actor_since, ip_since, T] {
        let r = s.record(OTHER_ORG, FAILED, at, IP, ACTOR);
        s.add("other org", &r);
        let r = s.record(ORG, FAILED, at, "203.0.113.10", "bob");
        s.add("other key", &r);
    }
    s.line("other org line", OTHER_ORG, ip_since, IP, ACTOR);
    let trigger = s.record(ORG, FAILED, T, IP, ACTOR);
    s.add("trigger", &trigger);

    let (returned, history) = s.read(&trigger);
    let ip_window = ["ip since", "line at ip since", "ip since+1", "same ms"];
    let actor_window = [
        "actor since",
        "actor since+1",
        "ip since-1",
        "ip since",
        "line at ip since",
        "ip since+1",
        "same ms",
    ];
    assert_eq!(
        returned.keys().copied().collect::<Vec<_>>(),
        [Part::IpFailedLogins, Part::ActorFailedLogins]
    );
    assert_eq!(returned[&Part::IpFailedLogins], with_trigger(&ip_window));
    assert_eq!(
        returned[&Part::ActorFailedLogins],
        with_trigger(&actor_window)
    );
    let ids = |list: &[Occurrence]| s.names(list.iter().map(|o| o.event_id.as_str()));
    assert_eq!(ids(&history.ip_failed_logins), sorted(&ip_window));
    assert_eq!(ids(&history.actor_failed_logins), sorted(&actor_window));
}

#[test]
fn rate_limit_reads_return_exactly_the_rows_of_their_window() {
    let since = T - DetectionConfig::default().rate_limit.window_ms();
    let mut s = Seeded::new();
    for (label, at) in [
        ("since-1", since - 1),
        ("since", since),
        ("since+1", since + 1),
        ("same ms", T),
        ("after", T + 1),
    ] {
        let r = s.record(ORG, RATE_LIMIT_NAME, at, IP, ACTOR);
        s.add(label, &r);
        let r = s.record(OTHER_ORG, RATE_LIMIT_NAME, at, IP, ACTOR);
        s.add("other org", &r);
        let r = s.record(ORG, FAILED, at, IP, ACTOR);
        s.add("other event name", &r);
    }
    let trigger = s.record(ORG, RATE_LIMIT_NAME, T, IP, ACTOR);
    s.add("trigger", &trigger);

    let (returned, history) = s.read(&trigger);
    let window = ["since", "since+1", "same ms"];
    assert_eq!(
        returned.keys().copied().collect::<Vec<_>>(),
        [Part::IpRateLimits, Part::ActorRateLimits]
    );
    assert_eq!(returned[&Part::IpRateLimits], with_trigger(&window));
    assert_eq!(returned[&Part::ActorRateLimits], with_trigger(&window));
    let ids = |list: &[Occurrence]| s.names(list.iter().map(|o| o.event_id.as_str()));
    assert_eq!(ids(&history.ip_rate_limits), sorted(&window));
    assert_eq!(ids(&history.actor_rate_limits), sorted(&window));
}

/// A successful login of `actor` at `at` from a place and a device of its own (both named
/// after `label`), so every sighting read returns it as a value of its own.
fn login(s: &mut Seeded, org: &str, label: &str, at: i64, actor: &str) -> EventRecord {
    let mut r = s.record(org, SUCCESSFUL_LOGIN_NAME, at, IP, actor);
    r.enrichment.country_code = Some(format!("country of {label}"));
    (r.enrichment.latitude, r.enrichment.longitude) = (Some(48.85), Some(2.35));
    r.metadata.insert(
        "device_id".into(),
        Value::String(format!("device of {label}")),
    );
    r
}

#[test]
fn behavioural_reads_return_exactly_the_rows_of_their_windows() {
    let config = DetectionConfig::default();
    let logins_since = T - config.travel.lookback_ms();
    let countries_since = T - i64::from(config.geo_history_days) * DAY;
    let devices_since = T - i64::from(config.device_history_days) * DAY;
    assert_eq!(
        countries_since, devices_since,
        "one set of edges serves both"
    );
    let mut s = Seeded::new();
    for (label, at) in [
        ("28d since-1", countries_since - 1),
        ("28d since", countries_since),
        ("28d since+1", countries_since + 1),
        ("24h since-1", logins_since - 1),
        ("24h since", logins_since),
        ("24h since+1", logins_since + 1),
        ("same ms", T),
        ("after", T + 1),
    ] {
        let r = login(&mut s, ORG, label, at, ACTOR);
        s.add(label, &r);
        let r = login(&mut s, OTHER_ORG, "other org", at, ACTOR);
        s.add("other org", &r);
        let r = login(&mut s, ORG, "other actor", at, "bob");
        s.add("other actor", &r);
    }
    // Not a successful login: a sighting of the actor, never a login.
    let mut logout = s.record(ORG, "auth.logout", logins_since, IP, ACTOR);
    logout.enrichment.country_code = Some("country of logout at 24h since".into());
    logout
        .metadata
        .insert("device_id".into(), "device of logout at 24h since".into());
    s.add("logout at 24h since", &logout);
    let trigger = login(&mut s, ORG, "trigger", T, ACTOR);
    s.add("trigger", &trigger);

    let (returned, history) = s.read(&trigger);
    let logins = ["24h since", "24h since+1", "same ms"];
    let sightings = [
        "28d since",
        "28d since+1",
        "24h since-1",
        "24h since",
        "24h since+1",
        "logout at 24h since",
        "same ms",
    ];
    assert_eq!(
        returned.keys().copied().collect::<Vec<_>>(),
        [
            Part::IpFailedLogins,
            Part::ActorFailedLogins,
            Part::ActorLogins,
            Part::ActorCountries,
            Part::ActorDevices,
            Part::ActorPrior
        ]
    );
    assert_eq!(returned[&Part::ActorLogins], with_trigger(&logins));
    assert_eq!(returned[&Part::ActorCountries], with_trigger(&sightings));
    assert_eq!(returned[&Part::ActorDevices], with_trigger(&sightings));
    assert_eq!(
        returned[&Part::ActorPrior],
        sorted(&["28d since-1", "28d since"]),
        "the actor's two earliest events"
    );
    assert_eq!(
        s.names(history.actor_logins.iter().map(|e| e.id.as_str())),
        sorted(&logins)
    );
    let seen = |list: &[Sighting]| s.names(list.iter().map(|x| x.event_id.as_str()));
    assert_eq!(seen(&history.actor_countries), sorted(&sightings));
    assert_eq!(seen(&history.actor_devices), sorted(&sightings));
    assert!(history.actor_has_prior_event);
    // The values travel with the rows.
    values_are_their_rows_own(&s, &history);
}

#[test]
fn identity_reads_take_the_actors_successful_login_lines() {
    let config = DetectionConfig::default();
    let logins_since = T - config.travel.lookback_ms();
    let sightings_since = T - i64::from(config.geo_history_days) * DAY;
    let mut s = Seeded::new();
    for (label, at) in [
        ("line 28d since-1", sightings_since - 1),
        ("line 28d since", sightings_since),
        ("line 24h since-1", logins_since - 1),
        ("line 24h since", logins_since),
        ("line after", T + 1),
    ] {
        s.login_line(label, ORG, at, ACTOR, Some("sshd"));
    }
    s.login_line("other org", OTHER_ORG, logins_since, ACTOR, Some("sshd"));
    s.login_line("other user", ORG, logins_since, "bob", Some("okta"));
    // A success only the keyword rules saw (`auth ok for alice`) is a guess, not a login.
    s.login_line("keyword line", ORG, logins_since + 1, ACTOR, None);
    // A failed login line of the actor is neither a login nor a sighting of it.
    s.line("failure line", ORG, logins_since, IP, ACTOR);
    let trigger = login(&mut s, ORG, "trigger", T, ACTOR);
    s.add("trigger", &trigger);

    let (returned, history) = s.read(&trigger);
    assert_eq!(
        returned[&Part::ActorLogins],
        with_trigger(&["line 24h since"])
    );
    let sightings = ["line 28d since", "line 24h since-1", "line 24h since"];
    assert_eq!(returned[&Part::ActorCountries], with_trigger(&sightings));
    assert_eq!(returned[&Part::ActorDevices], with_trigger(&sightings));
    assert_eq!(
        returned[&Part::ActorPrior],
        sorted(&["line 28d since-1", "line 28d since"]),
        "the actor's two earliest logins, here lines"
    );
    // A line is a login like an event: where it came from, measured as an event's place is.
    let [line] = history.actor_logins.as_slice() else {
        panic!("one login line: {:?}", history.actor_logins)
    };
    assert_eq!(s.name(&line.id), "line 24h since");
    assert_eq!(line.event_name, SUCCESSFUL_LOGIN_NAME);
    assert_eq!(
        (line.actor_id.as_deref(), line.source_ip.as_deref()),
        (Some(ACTOR), Some(IP))
    );
    assert_eq!(
        (line.latitude, line.longitude),
        (Some(-33.87), Some(151.21))
    );
    assert_eq!(line.city.as_deref(), Some("city of line 24h since"));
    assert_eq!(line.country.as_deref(), Some("country of line 24h since"));
    assert_eq!(line.device.as_deref(), Some("device of line 24h since"));
    assert_eq!(line.asn, Some(64_512));
    assert_eq!(
        (line.is_vpn, line.is_tor, line.is_proxy, line.is_datacenter),
        (true, false, false, true)
    );
    assert!(history.actor_has_prior_event);
    values_are_their_rows_own(&s, &history);
}

#[test]
fn the_prior_event_read_ends_at_the_triggers_millisecond() {
    let mut s = Seeded::new();
    let after = login(&mut s, ORG, "after", T + 1, ACTOR);
    s.add("after", &after);
    let other = login(&mut s, OTHER_ORG, "other org", T - DAY, ACTOR);
    s.add("other org", &other);
    let trigger = login(&mut s, ORG, "trigger", T, ACTOR);
    s.add("trigger", &trigger);
    let (returned, history) = s.read(&trigger);
    assert_eq!(returned[&Part::ActorPrior], sorted(&["trigger"]));
    assert!(
        !history.actor_has_prior_event,
        "an event after the trigger is not a prior one"
    );

    // Another event in the trigger's own millisecond is prior exactly when its id sorts first
    // (the rules' order, `precedes`): of the two, exactly one sees the other as prior.
    let twin = login(&mut s, ORG, "same ms", T, ACTOR);
    s.add("same ms", &twin);
    let (returned, history) = s.read(&trigger);
    assert_eq!(returned[&Part::ActorPrior], sorted(&["same ms", "trigger"]));
    let (_, twin_history) = s.read(&twin);
    assert_eq!(history.actor_has_prior_event, twin.id < trigger.id);
    assert_ne!(
        history.actor_has_prior_event, twin_history.actor_has_prior_event,
        "exactly one of two same-millisecond events is prior to the other"
    );
}

#[test]
fn sightings_stop_at_the_trigger_in_its_own_millisecond() {
    // An event stamped the trigger's millisecond but ordered after it (a larger id) is not an
    // earlier sighting and takes no room in the per-value bound.
    let mut s = Seeded::new();
    let earlier = login(&mut s, ORG, "earlier", T - DAY, ACTOR);
    s.add("earlier", &earlier);
    let trigger = login(&mut s, ORG, "trigger", T, ACTOR);
    s.add("trigger", &trigger);
    let twin = login(&mut s, ORG, "same ms, after", T, ACTOR);
    s.add("same ms, after", &twin);
    assert!(twin.id > trigger.id);
    let (returned, _) = s.read(&trigger);
    assert_eq!(
        returned[&Part::ActorCountries],
        sorted(&["earlier", "trigger"])
    );
    assert_eq!(
        returned[&Part::ActorDevices],
        sorted(&["earlier", "trigger"])
    );
    let (returned, _) = s.read(&twin);
    let all = sorted(&["earlier", "trigger", "same ms, after"]);
    assert_eq!(returned[&Part::ActorCountries], all);
}
