//! Suppressions without a database: values, bodies, matching at every boundary, and the
//! mark-safe shortcut. Their SQL runs on SQLite in `suppress_sql_tests.rs`.

use super::*;
use crate::access::ids::{EventId, OrgId};
use crate::api::sql::max_placeholder;
use crate::detect::{evaluate, DetectionConfig, DetectionEvent, History};
use crate::ingest::catalogue::AlertType;
use crate::ingest::NewEvent;
use crate::limits::plan::Plan;

const NOW: UnixMs = UnixMs(1_769_764_500_000);

fn value(scope: Scope, v: Value) -> Result<String, String> {
    Matcher::parse(scope, &v).map(|m| m.canonical())
}

#[test]
fn values_are_stored_canonical_and_bad_ones_say_why() {
    let ok = |scope, v: Value| value(scope, v).unwrap();
    assert_eq!(ok(Scope::Ip, json!(" 203.0.113.7 ")), "203.0.113.7");
    assert_eq!(ok(Scope::Ip, json!("2001:DB8:0:0::1")), "2001:db8::1");
    assert_eq!(
        ok(Scope::Ip, json!("::ffff:203.0.113.7")),
        "203.0.113.7",
        "IPv4-mapped is the IPv4 address"
    );
    assert!(value(Scope::Ip, json!("203.0.113.0/24")).is_err());
    assert!(value(Scope::Ip, json!("unknown")).is_err());
    assert!(value(Scope::Ip, json!(7)).is_err());

    assert_eq!(
        ok(Scope::Cidr, json!("203.0.113.77/24")),
        "203.0.113.0/24",
        "host bits dropped"
    );
    assert_eq!(ok(Scope::Cidr, json!("10.0.0.0/8")), "10.0.0.0/8");
    assert_eq!(ok(Scope::Cidr, json!("203.0.113.7/32")), "203.0.113.7/32");
    assert!(
        value(Scope::Cidr, json!("10.0.0.0/7")).is_err(),
        "broader than /8"
    );
    assert_eq!(ok(Scope::Cidr, json!("2001:db8::/16")), "2001::/16");
    assert!(
        value(Scope::Cidr, json!("2001:db8::/15")).is_err(),
        "broader than /16"
    );
    assert!(value(Scope::Cidr, json!("0.0.0.0/0")).is_err());
    assert!(
        value(Scope::Cidr, json!("203.0.113.7")).is_err(),
        "a prefix is required"
    );
    assert!(value(Scope::Cidr, json!("203.0.113.0/33")).is_err());

    for v in [
        json!("AS13335"),
        json!("as13335"),
        json!("13335"),
        json!(13335),
    ] {
        assert_eq!(ok(Scope::Asn, v), "AS13335");
    }
    assert_eq!(ok(Scope::Asn, json!("AS4294967295")), "AS4294967295");
    for v in [
        json!("AS0"),
        json!(0),
        json!("4294967296"),
        json!("AS-1"),
        json!("AS"),
        json!("13335.5"),
        json!(-5),
        json!("ASé1"),
    ] {
        assert!(value(Scope::Asn, v.clone()).is_err(), "{v}");
    }

    assert_eq!(ok(Scope::Actor, json!(" user_123 ")), "user_123");
    assert!(value(Scope::Actor, json!("  ")).is_err());
    assert_eq!(
        ok(Scope::Actor, json!("é".repeat(255))).chars().count(),
        255
    );
    assert!(value(Scope::Actor, json!("a".repeat(256))).is_err());

    assert_eq!(ok(Scope::Country, json!("de")), "DE");
    for bad in ["XX", "T1", "DEU", "D", "", "ZZ"] {
        assert!(value(Scope::Country, json!(bad)).is_err(), "{bad}");
    }
}

fn parse(body: Value) -> Result<NewSuppression, ApiError> {
    NewSuppression::parse(body.to_string().as_bytes(), NOW)
}

fn fields(e: &ApiError) -> Vec<String> {
    e.details.iter().map(|d| d.field.clone()).collect()
}

#[test]
fn bodies_are_validated_and_every_bad_field_is_named() {
    let s = parse(
        json!({"scope": "cidr", "value": "198.51.100.0/24", "reason": " VPN egress ",
        "alert_types": ["impossible_travel", "brute_force", "brute_force_attack"],
        "expires_at": "2026-02-06T17:00:00Z", "org_id": "someone_else"}),
    )
    .unwrap();
    assert_eq!(s.matcher.canonical(), "198.51.100.0/24");
    assert_eq!(s.reason, "VPN egress");
    assert_eq!(
        s.alert_types,
        Some(vec![
            "impossible_travel".into(),
            "brute_force_attack".into()
        ])
    );
    assert_eq!(s.expires_at, Some(UnixMs(1_770_397_200_000)));
    let plain = parse(json!({"scope": "actor", "value": "svc-backup", "reason": "r"})).unwrap();
    assert_eq!((plain.alert_types, plain.expires_at), (None, None));

    let e = parse(json!({})).unwrap_err();
    assert_eq!(fields(&e), ["scope", "reason"]);
    let e = parse(json!({"scope": "subnet", "value": "x", "reason": "r"})).unwrap_err();
    assert_eq!(fields(&e), ["scope"]);
    let e = parse(json!({"scope": "ip", "reason": "r"})).unwrap_err();
    assert_eq!(fields(&e), ["value"]);
    let e = parse(json!({"scope": "ip", "value": "300.1.2.3", "reason": "r"})).unwrap_err();
    assert_eq!(fields(&e), ["value"]);
    let long = "r".repeat(MAX_REASON_CHARS + 1);
    let e = parse(
        json!({"scope": "ip", "value": "203.0.113.7", "reason": long, "alert_types": [],
        "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .unwrap_err();
    assert_eq!(fields(&e), ["alert_types", "reason", "expires_at"]);
    let e = parse(
        json!({"scope": "ip", "value": "203.0.113.7", "reason": "  ",
        "alert_types": ["ddos"], "expires_at": "tomorrow"}),
    )
    .unwrap_err();
    assert_eq!(fields(&e), ["alert_types", "reason", "expires_at"]);
    assert!(parse(
        json!({"scope": "ip", "value": "203.0.113.7", "reason": "r".repeat(MAX_REASON_CHARS)})
    )
    .is_ok());
    // "In the future" is strict: now itself is refused, a millisecond later is accepted.
    let at = |iso: &str| {
        parse(json!({"scope": "ip", "value": "203.0.113.7", "reason": "r", "expires_at": iso}))
    };
    assert_eq!(fields(&at(&NOW.iso_millis()).unwrap_err()), ["expires_at"]);
    assert_eq!(
        at(&UnixMs(NOW.0 + 1).iso_millis()).unwrap().expires_at,
        Some(UnixMs(NOW.0 + 1))
    );
    for bad in [&b"[]"[..], b"nope", b"7"] {
        assert_eq!(
            fields(&NewSuppression::parse(bad, NOW).unwrap_err()),
            ["body"]
        );
    }
    let e = parse(json!({"scope": 7, "reason": 5})).unwrap_err();
    assert_eq!(fields(&e), ["scope", "reason"]);
}

/// A stored event of `org` at `at` with an IP, an actor, a country and an ASN.
fn trigger(org: &str, at: i64, ip: &str, actor: &str, country: &str, asn: u32) -> EventRecord {
    let mut r = EventRecord::assign(
        NewEvent {
            event_name: "admin.privilege_escalation".into(),
            actor_id: Some(actor.into()).filter(|a: &String| !a.is_empty()),
            actor_email: None,
            user_ip: Some(ip.into()).filter(|i: &String| !i.is_empty()),
            metadata: Default::default(),
        },
        &OrgId(org.into()),
        EventId::new_v4(),
        UnixMs(at),
        None,
    );
    r.enrichment.country_code = Some(country.into()).filter(|c: &String| !c.is_empty());
    r.enrichment.forensics =
        (asn > 0).then(|| json!({"network": {"asn": asn}, "location": {"country_code": country}}));
    r
}

/// The candidate the rules raise for `r` (an instant alert), with `alert_type` changed.
fn candidate(r: &EventRecord, alert_type: AlertType) -> AlertCandidate {
    let e = DetectionEvent::from_record(r);
    let mut c = evaluate(
        &e,
        &History::default(),
        Plan::Pro,
        &DetectionConfig::default(),
    )
    .into_iter()
    .next()
    .expect("an instant alert");
    c.alert_type = alert_type;
    c
}

fn suppression(id: &str, scope: Scope, v: &str) -> Suppression {
    Suppression {
        id: id.into(),
        matcher: Matcher::parse(scope, &json!(v)).unwrap(),
        alert_types: None,
        expires_at: None,
    }
}

fn matched<'a>(s: &'a Suppressions, r: &EventRecord, t: AlertType) -> Option<&'a str> {
    s.matching(&candidate(r, t), r)
}

#[test]
fn each_scope_matches_its_key_and_nothing_else() {
    let pe = AlertType::PrivilegeEscalation;
    let hit = trigger("org_a", NOW.0, "203.0.113.7", "mallory", "DE", 3320);
    let miss = trigger("org_a", NOW.0, "198.51.100.7", "eve", "FR", 16276);
    for (scope, v) in [
        (Scope::Ip, "203.0.113.7"),
        (Scope::Cidr, "203.0.113.0/24"),
        (Scope::Asn, "AS3320"),
        (Scope::Actor, "mallory"),
        (Scope::Country, "de"),
    ] {
        let mut s = Suppressions::none();
        s.add("org_a", suppression("sup_1", scope, v));
        assert_eq!(matched(&s, &hit, pe), Some("sup_1"), "{scope:?}");
        assert_eq!(matched(&s, &miss, pe), None, "{scope:?}");
        // Another organisation's suppressions never apply.
        let theirs = trigger("org_b", NOW.0, "203.0.113.7", "mallory", "DE", 3320);
        assert_eq!(
            matched(&s, &theirs, pe),
            None,
            "{scope:?} across organisations"
        );
    }
    // An actor is compared exactly; an address in any spelling.
    let mut s = Suppressions::none();
    s.add("org_a", suppression("sup_a", Scope::Actor, "Mallory"));
    s.add("org_a", suppression("sup_i", Scope::Ip, "2001:db8::1"));
    assert_eq!(matched(&s, &hit, pe), None);
    let v6 = trigger("org_a", NOW.0, "2001:0db8:0000::0001", "", "", 0);
    assert_eq!(matched(&s, &v6, pe), Some("sup_i"));
    // A trigger without the key (no IP, no enrichment) matches nothing of that scope.
    let bare = trigger("org_a", NOW.0, "", "someone", "", 0);
    for (scope, v) in [
        (Scope::Ip, "203.0.113.7"),
        (Scope::Cidr, "0.0.0.0/8"),
        (Scope::Asn, "1"),
        (Scope::Country, "DE"),
    ] {
        let mut s = Suppressions::none();
        s.add("org_a", suppression("sup_1", scope, v));
        assert_eq!(matched(&s, &bare, pe), None, "{scope:?}");
    }
}

#[test]
fn networks_match_up_to_their_edges_in_both_families() {
    let pe = AlertType::PrivilegeEscalation;
    let mut s = Suppressions::none();
    s.add("org_a", suppression("v4", Scope::Cidr, "203.0.113.0/24"));
    s.add("org_a", suppression("v6", Scope::Cidr, "2001:db8::/32"));
    let at =
        |ip: &str| matched(&s, &trigger("org_a", NOW.0, ip, "", "", 0), pe).map(str::to_string);
    for (ip, want) in [
        ("203.0.113.0", Some("v4")),
        ("203.0.113.255", Some("v4")),
        ("::ffff:203.0.113.200", Some("v4")),
        ("203.0.112.255", None),
        ("203.0.114.0", None),
        ("2001:db8::", Some("v6")),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Some("v6")),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("2001:db9::", None),
        ("not-an-ip", None),
    ] {
        assert_eq!(at(ip).as_deref(), want, "{ip}");
    }
    let mut wide = Suppressions::none();
    wide.add("org_a", suppression("w", Scope::Cidr, "10.0.0.0/8"));
    let t = |ip: &str| matched(&wide, &trigger("org_a", NOW.0, ip, "", "", 0), pe).is_some();
    assert!(t("10.255.255.255") && t("10.0.0.0") && !t("11.0.0.0") && !t("9.255.255.255"));
}

#[test]
fn alert_types_expiry_and_precedence() {
    let r = trigger("org_a", NOW.0, "203.0.113.7", "mallory", "DE", 3320);
    let mut travel_only = suppression("sup_t", Scope::Ip, "203.0.113.7");
    travel_only.alert_types = Some(vec!["impossible_travel".into(), "geo_anomaly".into()]);
    let mut s = Suppressions::none();
    s.add("org_a", travel_only);
    assert_eq!(matched(&s, &r, AlertType::ImpossibleTravel), Some("sup_t"));
    assert_eq!(matched(&s, &r, AlertType::GeoAnomaly), Some("sup_t"));
    assert_eq!(matched(&s, &r, AlertType::BruteForceAttack), None);
    assert_eq!(matched(&s, &r, AlertType::PrivilegeEscalation), None);

    // Applies to triggers strictly before expires_at: a millisecond before is suppressed, the
    // instant itself and after alert normally.
    let mut until = suppression("sup_e", Scope::Actor, "mallory");
    until.expires_at = Some(UnixMs(NOW.0 + 60_000));
    let mut s = Suppressions::none();
    s.add("org_a", until);
    let pe = AlertType::PrivilegeEscalation;
    let at = |t: i64| {
        matched(
            &s,
            &trigger("org_a", t, "203.0.113.7", "mallory", "", 0),
            pe,
        )
    };
    assert_eq!(at(NOW.0 + 59_999), Some("sup_e"));
    assert_eq!(at(NOW.0 + 60_000), None);
    assert_eq!(at(NOW.0 + 60_001), None);
    assert_eq!(
        at(NOW.0 - 86_400_000),
        Some("sup_e"),
        "an old trigger processed late"
    );

    // Several match: the oldest (first loaded) is named.
    let mut s = Suppressions::none();
    s.add("org_a", suppression("older", Scope::Country, "DE"));
    s.add("org_a", suppression("newer", Scope::Ip, "203.0.113.7"));
    assert_eq!(matched(&s, &r, pe), Some("older"));
}

#[test]
fn loaded_rows_become_suppressions_and_unreadable_ones_are_left_out() {
    let rows = [
        json!({"org_id": "org_a", "id": "sup_1", "scope": "cidr", "value": "203.0.113.0/24",
               "alert_types": "[\"brute_force_attack\"]", "expires_at": 1_769_764_560_000.0}),
        json!({"org_id": "org_a", "id": "sup_2", "scope": "asn", "value": "AS3320",
               "alert_types": null, "expires_at": null}),
        json!({"org_id": "org_a", "id": "sup_bad", "scope": "ip", "value": "not an ip",
               "alert_types": null, "expires_at": null}),
        json!({"org_id": "org_b", "id": "sup_3", "scope": "planet", "value": "mars"}),
    ];
    let s = Suppressions::from_rows(&rows);
    let mut want = Suppressions::none();
    want.add(
        "org_a",
        Suppression {
            id: "sup_1".into(),
            matcher: Matcher::Net("203.0.113.0/24".parse().unwrap()),
            alert_types: Some(vec!["brute_force_attack".into()]),
            expires_at: Some(UnixMs(1_769_764_560_000)),
        },
    );
    want.add(
        "org_a",
        Suppression {
            id: "sup_2".into(),
            matcher: Matcher::Asn(3320),
            alert_types: None,
            expires_at: None,
        },
    );
    assert_eq!(s, want);
    assert!(Suppressions::from_rows(&[]).is_empty());
}

fn alert_row(source_ip: Option<&str>, actor: Option<&str>) -> AlertRow {
    AlertRow {
        id: "a1".into(),
        org_id: "org_a".into(),
        alert_type: "impossible_travel".into(),
        severity: "high".into(),
        status: "open".into(),
        title: "t".into(),
        description: "d".into(),
        source_ip: source_ip.map(str::to_string),
        actor_id: actor.map(str::to_string),
        trigger_event_id: Some("e1".into()),
        forensics: Some(r#"{"network":{"asn":13335},"location":{"country_code":"nl"}}"#.into()),
        resolution_type: None,
        resolved_at: None,
        resolved_by: None,
        metadata: r#"{"country":"DE"}"#.into(),
        created_at: NOW.0 as f64,
        updated_at: NOW.0 as f64,
        acknowledged_at: None,
        acknowledged_by: None,
        suppressed_by: None,
    }
}

fn request(v: Value) -> Result<SuppressRequest, ApiError> {
    SuppressRequest::parse(&v)
}

#[test]
fn mark_safe_takes_the_value_from_the_alert() {
    let alert = alert_row(Some("203.0.113.7"), Some("alice"));
    let make = |v: Value| request(v).unwrap().for_alert(&alert, NOW);
    let ip = make(json!({"scope": "ip"})).unwrap();
    assert_eq!(
        (
            ip.matcher.canonical(),
            ip.alert_types.clone(),
            ip.reason.as_str()
        ),
        (
            "203.0.113.7".to_string(),
            Some(vec!["impossible_travel".to_string()]),
            "Marked safe from alert a1"
        ),
        "by default only the alert's own type, with a reason naming the alert"
    );
    assert_eq!(ip.expires_at, None);
    assert_eq!(
        make(json!({"scope": "actor"})).unwrap().matcher.canonical(),
        "alice"
    );
    assert_eq!(
        make(json!({"scope": "asn"})).unwrap().matcher.canonical(),
        "AS13335"
    );
    assert_eq!(
        make(json!({"scope": "country"}))
            .unwrap()
            .matcher
            .canonical(),
        "DE",
        "the trigger's country_code, kept in metadata.country"
    );
    let net = make(
        json!({"scope": "cidr", "value": "203.0.113.0/24", "alert_types": null,
        "reason": "office", "expires_at": "2026-03-01T00:00:00Z"}),
    )
    .unwrap();
    assert_eq!(
        (net.matcher.canonical(), net.alert_types, net.reason),
        ("203.0.113.0/24".to_string(), None, "office".to_string())
    );
    assert_eq!(net.expires_at, Some(UnixMs(1_772_323_200_000)));
    let listed = make(json!({"scope": "ip", "alert_types": ["geo_anomaly"]})).unwrap();
    assert_eq!(listed.alert_types, Some(vec!["geo_anomaly".to_string()]));

    let field = |r: Result<NewSuppression, ApiError>| r.unwrap_err().details[0].field.clone();
    assert_eq!(
        field(make(json!({"scope": "cidr", "value": "198.51.100.0/24"}))),
        "suppress.value",
        "the network must contain the alert's IP"
    );
    assert_eq!(
        field(make(json!({"scope": "cidr", "value": "0.0.0.0/1"}))),
        "suppress.value"
    );
    assert_eq!(
        field(make(
            json!({"scope": "ip", "expires_at": "2000-01-01T00:00:00Z"})
        )),
        "suppress.expires_at"
    );
    let bare = alert_row(None, None);
    let from_bare = |v: Value| request(v).unwrap().for_alert(&bare, NOW);
    assert_eq!(field(from_bare(json!({"scope": "ip"}))), "suppress.scope");
    assert_eq!(
        field(from_bare(json!({"scope": "actor"}))),
        "suppress.scope"
    );
    let mut no_geo = alert_row(Some("203.0.113.7"), None);
    no_geo.forensics = None;
    no_geo.metadata = "{}".into();
    let from = |v: Value| request(v).unwrap().for_alert(&no_geo, NOW);
    assert_eq!(field(from(json!({"scope": "asn"}))), "suppress.scope");
    assert_eq!(field(from(json!({"scope": "country"}))), "suppress.scope");

    let parse_fields = |v: Value| fields(&request(v).unwrap_err());
    assert_eq!(parse_fields(json!("ip")), ["suppress"]);
    assert_eq!(parse_fields(json!({})), ["suppress.scope"]);
    assert_eq!(
        parse_fields(json!({"scope": "ip", "value": "203.0.113.7"})),
        ["suppress.value"],
        "only cidr takes a value"
    );
    assert_eq!(parse_fields(json!({"scope": "cidr"})), ["suppress.value"]);
    assert_eq!(
        parse_fields(json!({"scope": "ip", "alert_types": "all", "reason": 5, "expires_at": 1})),
        [
            "suppress.alert_types",
            "suppress.reason",
            "suppress.expires_at"
        ]
    );
}

#[test]
fn rows_render_with_their_status() {
    let row = SuppressionRow {
        id: "sup_1".into(),
        org_id: "org_a".into(),
        scope: "cidr".into(),
        value: "203.0.113.0/24".into(),
        alert_types: Some(r#"["impossible_travel"]"#.into()),
        reason: "VPN".into(),
        created_by: "lsoc_live_abcd".into(),
        created_at: NOW.0 as f64,
        expires_at: Some((NOW.0 + 1000) as f64),
        deleted_at: None,
        deleted_by: None,
        ended_at: Some((NOW.0 + 1000) as f64),
    };
    let v = row.to_api(NOW);
    assert_eq!(v["status"], "active");
    assert_eq!(v["alert_types"], json!(["impossible_travel"]));
    assert_eq!(v["created_at"], "2026-01-30T09:15:00.000Z");
    assert_eq!(v["expires_at"], "2026-01-30T09:15:01.000Z");
    assert_eq!(v["deleted_at"], Value::Null);
    assert!(v.get("org_id").is_none());
    assert_eq!(row.status(UnixMs(NOW.0 + 1000)), "expired", "at expires_at");
    let deleted = SuppressionRow {
        deleted_at: Some(NOW.0 as f64),
        deleted_by: Some("api".into()),
        ..row
    };
    assert_eq!(deleted.to_api(NOW)["status"], "deleted");
}

#[test]
fn statements_bind_every_placeholder_and_are_scoped_by_organisation() {
    let s = parse(json!({"scope": "country", "value": "de", "reason": "r"})).unwrap();
    let stmts = [
        insert_statement("org_a", "sup_1", &s, "api", NOW),
        list_statement("org_a", false, NOW, UnixMs(0), 10),
        get_statement("org_a", "sup_1", UnixMs(0)),
        delete_statement("org_a", "sup_1", "api", NOW, UnixMs(0)),
        Suppressions::load_statement(&["org_a", "org_b"], NOW),
    ];
    for (sql, params) in &stmts {
        assert_eq!(max_placeholder(sql), params.len(), "{sql}");
        assert!(sql.contains("org_id"), "{sql}");
        assert!(
            params
                .iter()
                .any(|p| matches!(p, SqlParam::Text(t) if t.contains("org_a"))),
            "{sql}"
        );
    }
    assert_eq!(stmts[0].1[3], SqlParam::Text("DE".into()));
    assert!(path_id("SUP_0123456789abcdef0123456789ABCDEF").is_ok());
    for bad in [
        "sup_123",
        "dst_0123456789abcdef0123456789abcdef",
        "sup_0123456789abcdef0123456789abcdeg",
    ] {
        assert_eq!(path_id(bad).unwrap_err().status(), 404, "{bad}");
    }
    assert!(path_id(&new_id()).is_ok());
}

#[test]
fn patch_bodies_take_suppress_with_mark_safe_only_and_lists_take_status_suppressed() {
    use crate::alerts::{AlertPatch, AlertQuery, AlertStatus};
    let p = AlertPatch::parse(br#"{"status": "safe", "suppress": {"scope": "ip"}}"#).unwrap();
    assert_eq!(p.status, AlertStatus::Safe);
    assert_eq!(p.suppress.unwrap().scope, Scope::Ip);
    assert_eq!(
        AlertPatch::parse(br#"{"action": "mark_safe", "suppress": null}"#)
            .unwrap()
            .suppress,
        None
    );
    for body in [
        &br#"{"action": "resolve", "suppress": {"scope": "ip"}}"#[..],
        br#"{"action": "mark_safe", "suppress": []}"#,
    ] {
        let e = AlertPatch::parse(body).unwrap_err();
        assert_eq!(fields(&e), ["suppress"]);
    }
    let e = AlertPatch::parse(br#"{"action": "mark_safe", "suppress": {"scope": "planet"}}"#)
        .unwrap_err();
    assert_eq!(fields(&e), ["suppress.scope"]);

    let q = |status: &str| {
        AlertQuery::parse(
            &[("status".to_string(), status.to_string())],
            &crate::api::cursor::CursorKey::new("s", "o", "alerts"),
        )
    };
    let both = q("open, suppressed").unwrap();
    assert_eq!(
        (both.statuses.clone(), both.suppressed),
        (vec![AlertStatus::Open], true)
    );
    let only = q("suppressed").unwrap();
    assert_eq!((only.statuses.len(), only.suppressed), (0, true));
    let ((sql, params), _) = only.page_sql("o", UnixMs(0));
    assert!(sql.contains("suppressed_by IS NOT NULL"), "{sql}");
    assert_eq!(max_placeholder(&sql), params.len());
    let ((sql, params), _) = q("open,safe").unwrap().page_sql("o", UnixMs(0));
    assert!(sql.contains("suppressed_by IS NULL"), "{sql}");
    assert_eq!(max_placeholder(&sql), params.len());
    let ((sql, params), (count, _)) = both.page_sql("o", UnixMs(0));
    assert!(
        count.contains("(suppressed_by IS NOT NULL OR status IN"),
        "{count}"
    );
    assert_eq!(max_placeholder(&sql), params.len());
    assert_eq!(fields(&q("hidden").unwrap_err()), ["status"]);
}

#[test]
fn list_queries_take_include_expired_and_a_limit() {
    let q = |pairs: &[(&str, &str)]| {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListQuery::parse(&owned)
    };
    assert_eq!(
        q(&[]).unwrap(),
        ListQuery {
            ended: false,
            limit: LIST_DEFAULT_LIMIT
        }
    );
    assert_eq!(
        q(&[("include", "expired"), ("limit", "9999")]).unwrap(),
        ListQuery {
            ended: true,
            limit: LIST_MAX_LIMIT
        }
    );
    assert_eq!(fields(&q(&[("include", "all")]).unwrap_err()), ["include"]);
    assert_eq!(fields(&q(&[("limit", "x")]).unwrap_err()), ["limit"]);
    assert_eq!(limit_error().details[0].field, "suppressions");
}
