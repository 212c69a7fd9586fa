//! Detection settings: ranges at their edges, the merge patch, what detection reads, and the
//! SQL on SQLite (the merge is `json_patch`, so it is tested where it runs).

use super::*;
use crate::api::sql::max_placeholder;
use crate::testing::{run, SqliteDb};

const NOW: UnixMs = UnixMs(1_769_764_500_000);

fn parse(v: Value) -> Result<SettingsPatch, ApiError> {
    SettingsPatch::parse(v.to_string().as_bytes())
}

fn fields(e: &ApiError) -> Vec<String> {
    e.details.iter().map(|d| d.field.clone()).collect()
}

#[test]
fn the_view_of_the_defaults_is_the_documented_configuration() {
    let d = DetectionConfig::default();
    assert!(d.country_blocklist.is_empty());
    assert_eq!(
        view(&d),
        json!({
            "brute_force_ip": {"threshold": 5, "window_minutes": 5},
            "brute_force_account": {"threshold": 10, "window_minutes": 60},
            "travel": {"min_speed_kmh": 805.0, "min_distance_km": 500.0},
            "agents": {"stale_alert_minutes": 0},
            "country_blocklist": [],
        })
    );
    let api = to_api(None);
    assert_eq!(api["defaults"], view(&d));
    assert_eq!(api["brute_force_ip"], view(&d)["brute_force_ip"]);
    assert_eq!(
        (&api["reason"], &api["updated_by"], &api["updated_at"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    // Every default is inside its own range.
    for s in SETTINGS {
        assert!(s.check(&view(&d)[s.group][s.name]).is_ok(), "{}", s.field());
    }
}

#[test]
fn every_setting_accepts_its_range_and_names_itself_outside_it() {
    for s in SETTINGS {
        let at = |n: Value| parse(json!({ s.group: { s.name: n } }));
        let ok = |n: f64| {
            let v = if s.integer { json!(n as u64) } else { json!(n) };
            assert!(at(v).is_ok(), "{} = {n}", s.field());
        };
        ok(s.min);
        ok(s.max);
        let step = if s.integer { 1.0 } else { 0.5 };
        for bad in [
            json!(s.min - step),
            json!(s.max + step),
            json!("5"),
            json!(true),
            json!([5]),
        ] {
            let e = at(bad.clone()).unwrap_err();
            assert_eq!(fields(&e), [s.field()], "{} = {bad}", s.field());
        }
        if s.integer {
            assert_eq!(fields(&at(json!(s.min + 0.5)).unwrap_err()), [s.field()]);
        } else {
            assert!(at(json!(s.min + 0.5)).is_ok());
        }
        assert_eq!(
            at(Value::Null).unwrap().merge,
            json!({ s.group: { s.name: null } }),
            "null resets one setting"
        );
    }
}

#[test]
fn patches_are_merge_patches_of_known_settings_only() {
    let p = parse(json!({
        "brute_force_ip": {"threshold": 3},
        "travel": null,
        "country_blocklist": ["kp", "IR", "KP"],
        "reason": "  red team week  ",
    }))
    .unwrap();
    assert_eq!(
        p.merge,
        json!({"brute_force_ip": {"threshold": 3}, "travel": null, "country_blocklist": ["KP", "IR"]})
    );
    assert_eq!(p.reason.as_deref(), Some("red team week"));
    assert_eq!(
        parse(json!({"country_blocklist": null})).unwrap().merge,
        json!({"country_blocklist": null})
    );
    assert_eq!(
        parse(json!({"country_blocklist": []})).unwrap().merge,
        json!({"country_blocklist": []})
    );

    let e = parse(json!({
        "brute_force_ip": {"treshold": 3, "window_minutes": 0},
        "brute_force_account": 10,
        "travel": {"min_speed_kmh": 99},
        "country_blocklist": ["XX"],
        "rate_limit": {"threshold": 1},
        "reason": 7,
    }))
    .unwrap_err();
    assert_eq!(
        fields(&e),
        [
            "brute_force_account",
            "brute_force_ip.treshold",
            "brute_force_ip.window_minutes",
            "country_blocklist",
            "rate_limit",
            "reason",
            "travel.min_speed_kmh",
        ]
    );
    let most: Vec<&str> = (0..MAX_BLOCKLIST).map(|_| "DE").collect();
    assert_eq!(
        parse(json!({"country_blocklist": most})).unwrap().merge,
        json!({"country_blocklist": ["DE"]})
    );
    let too_many: Vec<String> = (0..=MAX_BLOCKLIST).map(|_| "DE".to_string()).collect();
    assert_eq!(
        fields(&parse(json!({"country_blocklist": too_many})).unwrap_err()),
        ["country_blocklist"]
    );
    assert_eq!(fields(&parse(json!({})).unwrap_err()), ["body"]);
    assert_eq!(
        fields(&parse(json!({"": 1})).unwrap_err()),
        ["body"],
        "an empty member name"
    );
    let long = "x".repeat(5000);
    assert_eq!(
        fields(&parse(json!({ long: 1 })).unwrap_err())[0].len(),
        100
    );
    assert_eq!(
        fields(&parse(json!({"reason": "only why"})).unwrap_err()),
        ["body"]
    );
    assert_eq!(
        fields(&parse(json!({"reason": "r".repeat(501), "travel": null})).unwrap_err()),
        ["reason"]
    );
    assert_eq!(fields(&SettingsPatch::parse(b"[1]").unwrap_err()), ["body"]);
    assert_eq!(fields(&SettingsPatch::parse(b"{").unwrap_err()), ["body"]);
}

#[test]
fn stored_overrides_apply_over_the_defaults_and_bad_ones_keep_them() {
    let d = DetectionConfig::default();
    let c = apply(
        &d,
        &json!({
            "brute_force_ip": {"threshold": 3, "window_minutes": 2},
            "brute_force_account": {"threshold": 20, "window_minutes": 1440},
            "travel": {"min_speed_kmh": 1200.5, "min_distance_km": 50},
            "country_blocklist": ["KP", "xx", "ir"],
        }),
    );
    assert_eq!(
        (c.brute_force_ip.threshold, c.brute_force_ip.window_minutes),
        (3, 2)
    );
    assert_eq!(
        (
            c.brute_force_account.threshold,
            c.brute_force_account.window_minutes
        ),
        (20, 1440)
    );
    assert_eq!(
        (c.travel.min_speed_kmh, c.travel.min_distance_km),
        (1200.5, 50.0)
    );
    assert_eq!(c.country_blocklist, ["KP", "IR"]);
    assert_eq!(
        c.rate_limit, d.rate_limit,
        "what no setting names is untouched"
    );
    assert_eq!(c.travel.lookback_hours, d.travel.lookback_hours);
    let bad = apply(
        &d,
        &json!({"brute_force_ip": {"threshold": 1}, "travel": "fast"}),
    );
    assert_eq!(bad, d);
    assert_eq!(apply(&d, &Value::Null), d);
}

#[test]
fn statements_bind_every_placeholder_and_are_scoped_by_organisation() {
    let p = parse(json!({"travel": {"min_speed_kmh": 900}})).unwrap();
    for (sql, params) in [
        get_statement("org_a"),
        upsert_statement("org_a", &p, "api", NOW),
        load_statement(&["org_a"]),
    ] {
        assert_eq!(max_placeholder(&sql), params.len(), "{sql}");
        assert!(sql.contains("org_id"), "{sql}");
    }
}

fn row(db: &SqliteDb, org: &str) -> Option<SettingsRow> {
    db.rows(&get_statement(org).0, &get_statement(org).1)
        .first()
        .map(|r| SettingsRow::deserialize(r).unwrap())
}

fn patch(db: &SqliteDb, org: &str, body: Value, by: &str, at: i64) {
    let p = parse(body).unwrap();
    run(db.batch(&[upsert_statement(org, &p, by, UnixMs(at))])).unwrap();
}

#[test]
fn patches_merge_in_sql_and_record_who_when_and_why() {
    let db = SqliteDb::migrated();
    assert_eq!(row(&db, "org_a"), None);
    patch(
        &db,
        "org_a",
        json!({"brute_force_ip": {"threshold": 3}, "country_blocklist": ["KP"], "reason": "pilot"}),
        "lsoc_live_abcd",
        NOW.0,
    );
    patch(
        &db,
        "org_a",
        json!({"brute_force_ip": {"window_minutes": 15}, "travel": {"min_distance_km": 800}}),
        "lsoc_live_wxyz",
        NOW.0 + 1000,
    );
    patch(
        &db,
        "org_b",
        json!({"brute_force_account": {"threshold": 4}}),
        "api",
        NOW.0,
    );
    let a = row(&db, "org_a").unwrap();
    let api = to_api(Some(&a));
    assert_eq!(
        api["brute_force_ip"],
        json!({"threshold": 3, "window_minutes": 15}),
        "merged, not replaced"
    );
    assert_eq!(
        api["travel"],
        json!({"min_speed_kmh": 805.0, "min_distance_km": 800.0})
    );
    assert_eq!(api["country_blocklist"], json!(["KP"]));
    assert_eq!(
        api["brute_force_account"],
        view(&DetectionConfig::default())["brute_force_account"]
    );
    assert_eq!(
        (&api["updated_by"], &api["updated_at"], &api["reason"]),
        (
            &json!("lsoc_live_wxyz"),
            &json!("2026-01-30T09:15:01.000Z"),
            &Value::Null
        ),
        "the latest change, and its own reason (none)"
    );
    // A null resets a setting, and an emptied group is the defaults again.
    patch(
        &db,
        "org_a",
        json!({"brute_force_ip": {"threshold": null, "window_minutes": null}, "country_blocklist": null}),
        "api",
        NOW.0 + 2000,
    );
    let api = to_api(row(&db, "org_a").as_ref());
    assert_eq!(
        api["brute_force_ip"],
        json!({"threshold": 5, "window_minutes": 5})
    );
    assert_eq!(api["country_blocklist"], json!([]));
    assert_eq!(api["travel"]["min_distance_km"], 800.0);

    // Detection reads both organisations' settings in one statement, and defaults for others.
    let ctx = run(DetectionContext::load(
        &db,
        &["org_a", "org_b", "org_c"],
        NOW,
    ))
    .unwrap();
    assert_eq!(ctx.config("org_a").travel.min_distance_km, 800.0);
    assert_eq!(ctx.config("org_a").brute_force_ip.threshold, 5);
    assert_eq!(ctx.config("org_b").brute_force_account.threshold, 4);
    assert_eq!(ctx.config("org_c"), &DetectionConfig::default());
    assert_eq!(
        ctx.config("org_b").brute_force_ip,
        DetectionConfig::default().brute_force_ip
    );
    assert!(ctx.suppressions.is_empty());
    let before = db.batches.get();
    run(DetectionContext::load(&db, &[], NOW)).unwrap();
    assert_eq!(db.batches.get(), before, "no organisation, no round trip");
}
