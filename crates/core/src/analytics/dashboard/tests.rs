//! Unit tests of the query, the window and the assembly, with hand-built rows (the SQL is
//! exercised end to end in tests/e2e/dashboard.test.mjs).

use super::assemble::*;
use super::params::{DAY_MS, HOUR_MS};
use super::sql::{ANOMALIES, ANOMALY_COUNTS, ATTACKERS, BUCKETS, FLOWS, IAM, LOGS, SOURCES};
use super::*;
use crate::time::UnixMs;
use serde_json::{json, Value};

// 2026-01-30T09:15:00.123Z (a Friday).
const NOW: UnixMs = UnixMs(1_769_764_500_123);
const NOW_HOUR: i64 = 1_769_763_600_000; // 09:00Z
const PRO_CUTOFF: UnixMs = UnixMs(NOW.0 - 30 * DAY_MS);

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(p: &[(&str, &str)]) -> Result<DashboardQuery, crate::ApiError> {
    DashboardQuery::parse(&pairs(p))
}

fn window(hours: u32) -> Window {
    Window::new(hours, NOW, PRO_CUTOFF)
}

// ---------------------------------------------------------------- query

#[test]
fn defaults() {
    assert_eq!(parse(&[]).unwrap(), DashboardQuery::default());
    let d = DashboardQuery::default();
    assert_eq!(
        (d.hours, d.log_limit, d.anomaly_limit, d.iam_limit),
        (24, 500, 50, 20)
    );
    assert_eq!((d.service, d.namespace), (None, None));
}

#[test]
fn integers_are_clamped_to_their_ranges() {
    let q = parse(&[
        ("hours", "500"),
        ("log_limit", "99999"),
        ("anomaly_limit", "201"),
        ("iam_limit", "1000"),
    ])
    .unwrap();
    assert_eq!(
        (q.hours, q.log_limit, q.anomaly_limit, q.iam_limit),
        (168, 5000, 200, 200)
    );
    let q = parse(&[
        ("hours", "0"),
        ("log_limit", "-1"),
        ("anomaly_limit", "0"),
        ("iam_limit", "-7"),
    ])
    .unwrap();
    assert_eq!(
        (q.hours, q.log_limit, q.anomaly_limit, q.iam_limit),
        (1, 0, 0, 0)
    );
    assert_eq!(parse(&[("hours", " +5 ")]).unwrap().hours, 5);
    assert_eq!(parse(&[("hours", "-3")]).unwrap().hours, 1);
    assert_eq!(
        parse(&[("hours", "99999999999999999999999")])
            .unwrap()
            .hours,
        168,
        "an integer too large for i64 is still an integer"
    );
    assert_eq!(
        parse(&[("log_limit", "-99999999999999999999999")])
            .unwrap()
            .log_limit,
        0
    );
    assert_eq!(
        parse(&[("hours", "")]).unwrap().hours,
        24,
        "empty = default"
    );
}

#[test]
fn a_non_integer_is_a_400_naming_the_parameter() {
    for (name, bad) in [
        ("hours", "abc"),
        ("hours", "1.5"),
        ("hours", "24h"),
        ("log_limit", "ten"),
        ("anomaly_limit", "+"),
        ("iam_limit", "0x10"),
        ("hours", "1e3"),
    ] {
        let e = parse(&[(name, bad)]).unwrap_err();
        assert_eq!(e.status(), 400, "{name}={bad}");
        assert_eq!(e.code, crate::ErrorCode::ValidationError);
        assert_eq!(e.details[0].field, name, "{name}={bad}");
        assert!(e.message.contains(name), "{}", e.message);
    }
    let e = parse(&[("hours", "1"), ("hours", "2")]).unwrap_err();
    assert_eq!(e.details[0].field, "hours", "conflicting repeats");
}

#[test]
fn filters_are_exact_and_empty_means_none() {
    let q = parse(&[("service", "auth-service"), ("namespace", "prod")]).unwrap();
    assert_eq!(q.service.as_deref(), Some("auth-service"));
    assert_eq!(q.namespace.as_deref(), Some("prod"));
    let q = parse(&[("service", ""), ("namespace", "  ")]).unwrap();
    assert_eq!((q.service, q.namespace), (None, None));
    let q = parse(&[("service", "Auth Service ")]).unwrap();
    assert_eq!(q.service.as_deref(), Some("Auth Service "), "used as given");
}

// ---------------------------------------------------------------- window

#[test]
fn the_window_is_hour_aligned_and_ends_now_to_the_second() {
    let w = window(24);
    assert_eq!(w.hours, 24);
    assert_eq!(w.end, UnixMs(1_769_764_500_000));
    assert_eq!(w.start.iso_seconds(), "2026-01-29T09:00:00Z");
    assert_eq!(w.last_hour(), NOW_HOUR);
    let b: Vec<i64> = w.buckets().collect();
    assert_eq!(b.len(), 25, "hours + 1 buckets");
    assert_eq!(b[0], w.start.0);
    assert_eq!(*b.last().unwrap(), NOW_HOUR);
    assert!(b.windows(2).all(|p| p[1] - p[0] == HOUR_MS));
    assert_eq!(w.days(), (1_769_644_800_000, 1_769_731_200_000));
    assert_eq!(window(1).buckets().count(), 2);
    assert_eq!(window(168).buckets().count(), 169);
}

#[test]
fn hours_never_reach_past_retention() {
    // Free: 7 days = 168 h of retention, but the aligned window is up to an hour longer.
    let free = |now: UnixMs| Window::new(168, now, now.minus_days(7));
    assert_eq!(free(NOW).hours, 167);
    assert!(free(NOW).start >= NOW.minus_days(7));
    let on_the_hour = UnixMs(NOW_HOUR);
    assert_eq!(free(on_the_hour).hours, 168, "exactly on the hour it fits");
    assert_eq!(free(on_the_hour).start, on_the_hour.minus_days(7));
    assert_eq!(Window::new(24, NOW, NOW.minus_days(7)).hours, 24);
    // A custom plan keeping one day.
    let day = Window::new(168, NOW, NOW.minus_days(1));
    assert_eq!(day.hours, 23);
    assert!(day.start >= NOW.minus_days(1));
    assert_eq!(window(168).hours, 168, "Pro keeps 30 days");
    assert_eq!(window(0).hours, 1);
}

#[test]
fn anomaly_status_picks_the_alerts_and_anything_else_is_a_400() {
    assert_eq!(parse(&[]).unwrap().anomaly_status, AnomalyStatus::All);
    assert_eq!(
        parse(&[("anomaly_status", "active")])
            .unwrap()
            .anomaly_status,
        AnomalyStatus::Active
    );
    assert_eq!(
        parse(&[("anomaly_status", "safe")]).unwrap().anomaly_status,
        AnomalyStatus::Only("safe")
    );
    assert_eq!(
        AnomalyStatus::Active.condition(),
        " AND a.status IN ('open', 'acknowledged')"
    );
    assert_eq!(AnomalyStatus::All.condition(), "");
    let e = parse(&[("anomaly_status", "closed' OR 1=1 --")]).unwrap_err();
    assert!(e.to_string().contains("anomaly_status"), "{e}");
}

#[test]
fn pivots_take_a_canonical_address_and_an_exact_user() {
    let q = parse(&[("ip", "::ffff:203.0.113.7"), ("user", "alice@example.com")]).unwrap();
    assert_eq!(q.source_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(q.user.as_deref(), Some("alice@example.com"));
    assert!(q.pivoted());
    assert!(!parse(&[("user", "")]).unwrap().pivoted(), "empty is none");
    let e = parse(&[("source_ip", "203.0.113.999")]).unwrap_err();
    assert!(e.to_string().contains("source_ip"), "{e}");
}

#[test]
fn a_custom_range_takes_whole_hours_to_its_end() {
    let q = parse(&[
        ("start", "2026-01-20T10:30:00Z"),
        ("end", "2026-01-22T06:45:12.5Z"),
        ("hours", "3"),
    ])
    .unwrap();
    let w = q.window(NOW, PRO_CUTOFF).unwrap();
    assert_eq!(w.start.iso_seconds(), "2026-01-20T10:00:00Z");
    assert_eq!(w.end.iso_seconds(), "2026-01-22T06:45:12Z");
    assert_eq!(w.hours, 44, "custom ranges ignore hours");
    assert_eq!(w.buckets().count(), 45);
    // Dates: the end date is its whole day; an end in the future is now.
    let q = parse(&[("start", "2026-01-10"), ("end", "2026-01-10")]).unwrap();
    let w = q.window(NOW, PRO_CUTOFF).unwrap();
    assert_eq!(w.start.iso_seconds(), "2026-01-10T00:00:00Z");
    assert_eq!(w.end.iso_seconds(), "2026-01-10T23:59:59Z");
    let q = parse(&[("start", "2026-01-29"), ("end", "2027-01-01")]).unwrap();
    let w = q.window(NOW, PRO_CUTOFF).unwrap();
    assert_eq!(w.end, UnixMs(1_769_764_500_000));
    assert_eq!(w.last_hour(), NOW_HOUR);
    // No end: up to now; a start inside the last hour still gets one whole hour.
    let q = parse(&[("start", "2026-01-30T09:10:00Z")]).unwrap();
    let w = q.window(NOW, PRO_CUTOFF).unwrap();
    assert_eq!((w.hours, w.start.0), (1, NOW_HOUR - HOUR_MS));
}

#[test]
fn a_custom_range_stays_inside_retention_and_its_cap() {
    let free = NOW.minus_days(7);
    let q = parse(&[("start", "2025-01-01")]).unwrap();
    let w = q.window(NOW, free).unwrap();
    assert!(w.start >= free, "never before the cutoff");
    assert_eq!(w.hours, 167);
    // Enterprise-length retention still caps the timeline at 90 days.
    let w = q.window(NOW, UnixMs(0)).unwrap();
    assert_eq!(w.hours, MAX_RANGE_HOURS);
    let e = parse(&[("start", "2025-01-01"), ("end", "2025-01-02")])
        .unwrap()
        .window(NOW, free)
        .unwrap_err();
    assert!(e.to_string().contains("end"), "{e}");
}

#[test]
fn a_range_must_be_a_range() {
    for (p, field) in [
        (vec![("end", "2026-01-29")], "end"),
        (vec![("start", "yesterday")], "start"),
        (
            vec![
                ("start", "2026-01-29T10:00:00Z"),
                ("end", "2026-01-29T10:00:00Z"),
            ],
            "end",
        ),
        (
            vec![("start", "2026-01-29T10:00:00Z"), ("end", "2026-01-28")],
            "end",
        ),
    ] {
        let e = parse(&p).unwrap_err();
        assert!(e.to_string().contains(field), "{p:?}: {e}");
    }
}

// ---------------------------------------------------------------- timeline, stats, heatmap

fn bucket(hour: i64, total: f64, hostile: f64) -> BucketRow {
    BucketRow {
        hour: hour as f64,
        total,
        critical: (total / 4.0).floor(),
        warnings: 1.0_f64.min(total),
        failed: (total / 2.0).floor(),
        iam: 1.0_f64.min(total),
        hostile,
    }
}

#[test]
fn an_empty_window_has_every_bucket_and_zero_counts() {
    let w = window(24);
    let t = timeline(&w, &[]);
    assert_eq!(t.buckets.len(), 25);
    assert_eq!((t.total, t.failed, t.iam), (0, 0, 0));
    for (i, b) in t.buckets.iter().enumerate() {
        assert_eq!(
            b,
            &json!({"timestamp": UnixMs(w.start.0 + i as i64 * HOUR_MS).iso_seconds(), "total": 0,
                    "critical": 0, "warnings": 0, "failedLogins": 0, "iamChanges": 0})
        );
    }
    let h = heatmap(&t.hostile);
    assert_eq!(h["maxValue"], 0);
    assert_eq!(h["data"].as_array().unwrap().len(), 7);
    assert!(h["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r.as_array().unwrap().len() == 24));
}

#[test]
fn buckets_land_on_their_hour_and_sum_to_the_totals() {
    let w = window(24);
    let rows = [
        bucket(w.start.0, 8.0, 1.0),
        bucket(w.start.0 + 5 * HOUR_MS, 3.0, 0.0),
        bucket(NOW_HOUR, 10.0, 4.0),
        bucket(w.start.0 - HOUR_MS, 99.0, 9.0), // outside: ignored
    ];
    let t = timeline(&w, &rows);
    assert_eq!(t.buckets[0]["total"], 8);
    assert_eq!(t.buckets[0]["critical"], 2);
    assert_eq!(t.buckets[0]["failedLogins"], 4);
    assert_eq!(t.buckets[5]["total"], 3);
    assert_eq!(t.buckets[24]["total"], 10);
    assert_eq!(t.buckets[24]["timestamp"], "2026-01-30T09:00:00Z");
    assert_eq!(t.total, 21);
    assert_eq!(t.failed, 4 + 1 + 5);
    assert_eq!(t.iam, 3);
    assert_eq!(t.hostile.iter().map(|h| h.1).sum::<u64>(), 5);
    // Negative rollup sums (never expected) are not sent as negative counts.
    let t = timeline(&w, &[bucket(NOW_HOUR, -2.0, -1.0)]);
    assert_eq!((t.total, t.buckets[24]["total"].clone()), (0, json!(0)));
}

#[test]
fn heatmap_uses_iso_weekdays_monday_first_and_utc_hours() {
    let sunday_23 = 1_769_382_000_000; // 2026-01-25T23:00Z
    let monday_00 = 1_769_385_600_000; // 2026-01-26T00:00Z
    let friday_09 = NOW_HOUR;
    let h = heatmap(&[
        (sunday_23, 3),
        (monday_00, 5),
        (friday_09, 2),
        (friday_09, 1),
    ]);
    assert_eq!(
        h["days"],
        json!(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    );
    assert_eq!(h["data"][6][23], 3, "Sunday is the last row");
    assert_eq!(h["data"][0][0], 5, "Monday is row 0");
    assert_eq!(h["data"][4][9], 3, "the same cell adds up");
    assert_eq!(h["maxValue"], 5);
    let total: u64 = h["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(total, 11);
}

#[test]
fn a_week_window_folds_its_first_and_last_bucket_into_one_cell() {
    let w = window(168);
    let t = timeline(
        &w,
        &[bucket(w.start.0, 1.0, 2.0), bucket(NOW_HOUR, 1.0, 3.0)],
    );
    let h = heatmap(&t.hostile);
    assert_eq!(h["data"][4][9], 5, "both Fridays at 09:00");
}

#[test]
fn events_per_hour_is_a_rate_with_one_decimal() {
    assert_eq!(events_per_hour(0, 24), 0.0);
    assert_eq!(events_per_hour(100, 24), 4.2);
    assert_eq!(events_per_hour(3, 2), 1.5);
    assert_eq!(events_per_hour(1, 8), 0.1, "0.125 → 0.1");
    assert_eq!(events_per_hour(3, 8), 0.4, "0.375 → 0.4");
    assert_eq!(events_per_hour(1_000_000, 24), 41666.7);
    assert_eq!(events_per_hour(7, 168), 0.0);
}

#[test]
fn threat_distribution_counts_in_fixed_order_with_zeros() {
    let c = severity_counts(&[
        CountRow {
            severity: "low".into(),
            n: 2.0,
        },
        CountRow {
            severity: "critical".into(),
            n: 1.0,
        },
        CountRow {
            severity: "bogus".into(),
            n: 9.0,
        },
    ]);
    assert_eq!(c, [1, 0, 0, 2]);
    assert_eq!(severity_counts(&[]), [0, 0, 0, 0]);
}

// ---------------------------------------------------------------- logs, IAM

fn line(id: f64, ts: f64) -> LogItemRow {
    LogItemRow {
        id,
        ts,
        log_type: "network_event".into(),
        level: "info".into(),
        service: "web".into(),
        namespace: "default".into(),
        ..LogItemRow::default()
    }
}

#[test]
fn a_raw_line_with_nothing_optional_has_only_the_required_keys() {
    let v = log_item(&line(124.0, 1_706_616_060_999.0), false);
    assert_eq!(
        v,
        json!({"id": "124-1706616060", "type": "network_event", "sourceIp": "unknown",
               "timestamp": "2024-01-30T12:01:00Z",
               "_metadata": {"severity": "info", "service": "web", "namespace": "default"}})
    );
}

#[test]
fn optional_keys_are_sent_when_known_and_action_only_on_iam_changes() {
    let mut r = line(7.0, NOW.0 as f64);
    r.log_type = "iam_change".into();
    r.action = Some("policy_attached".into());
    r.source_ip = Some("203.0.113.9".into());
    r.user = Some("admin".into());
    r.geo = Some("DE".into());
    r.hostname = Some("auth-7d9f".into());
    r.target_ip = Some("10.0.0.5".into());
    r.device = Some("edge-box".into());
    r.vpn = Some(1.0);
    r.status_code = Some(403.0);
    let v = log_item(&r, false);
    assert_eq!(v["action"], "policy_attached");
    assert_eq!(v["sourceIp"], "203.0.113.9");
    assert_eq!(v["vpn"], true);
    assert_eq!(v["targetIp"], "10.0.0.5");
    assert_eq!(v["_metadata"]["status_code"], 403);
    assert_eq!(v["timestamp"], "2026-01-30T09:15:00Z");
    assert_eq!(v.as_object().unwrap().len(), 12);
    r.log_type = "network_event".into();
    assert!(log_item(&r, false).get("action").is_none());
    r.vpn = Some(0.0);
    assert_eq!(log_item(&r, false)["vpn"], false);
}

#[test]
fn free_redaction_hides_geo_and_vpn_of_event_items_only() {
    let mut e = line(9.0, NOW.0 as f64);
    e.event_id = Some("6ba7b810-9dad-41d1-80b4-00c04fd430c8".into());
    e.geo = Some("DE".into());
    e.vpn = Some(1.0);
    e.user = Some("u1".into());
    let open = log_item(&e, false);
    assert_eq!(open["id"], "6ba7b810-9dad-41d1-80b4-00c04fd430c8");
    assert_eq!(
        (open["geo"].clone(), open["vpn"].clone()),
        (json!("DE"), json!(true))
    );
    let hidden = log_item(&e, true);
    assert!(hidden.get("geo").is_none() && hidden.get("vpn").is_none());
    assert_eq!(hidden["user"], "u1");
    // A raw line's geo is the line's own field, not enrichment.
    let mut raw = line(10.0, NOW.0 as f64);
    raw.geo = Some("FR".into());
    raw.vpn = Some(1.0);
    let kept = log_item(&raw, true);
    assert_eq!(
        (kept["geo"].clone(), kept["vpn"].clone()),
        (json!("FR"), json!(true))
    );
}

#[test]
fn iam_changes_fill_unknowns() {
    let v = iam_change(&IamRow {
        id: 1.0,
        ts: NOW.0 as f64,
        user: None,
        action: None,
        resource: None,
        service: "auth".into(),
    });
    assert_eq!(
        v,
        json!({"timestamp": "2026-01-30T09:15:00Z", "changedBy": "unknown",
               "action": "permission_changed", "resource": "unknown", "service": "auth"})
    );
}

// ---------------------------------------------------------------- anomalies

fn alert(id: &str, severity: &str, at: i64) -> AnomalyRow {
    AnomalyRow {
        id: id.into(),
        created_at: at as f64,
        severity: severity.into(),
        alert_type: "brute_force_attack".into(),
        title: "t".into(),
        description: "d".into(),
        status: "open".into(),
        confidence: Some(82.0),
        ..AnomalyRow::default()
    }
}

#[test]
fn anomalies_sort_by_rank_then_newest_then_id() {
    let t = NOW.0;
    let list = anomaly_list(vec![
        alert("a", "low", t),
        alert("b", "critical", t - 10),
        alert("c", "high", t),
        alert("d", "critical", t),
        alert("e", "high", t),
        alert("f", "medium", t + 5),
    ]);
    let ids: Vec<&str> = list.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["d", "b", "e", "c", "f", "a"]);
}

#[test]
fn anomaly_shape() {
    let mut a = alert("x", "high", NOW.0);
    a.evidence = Some(json!(
        r#"{"count":7,"threshold":5,"window_minutes":5,"key":"ip"}"#
    ));
    a.service = Some("auth-service".into());
    a.namespace = Some("prod".into());
    a.source_ip = Some("203.0.113.45".into());
    a.confidence = Some(82.4);
    let v = &anomaly_list(vec![a])[0];
    assert_eq!(
        v,
        &json!({"id": "x", "timestamp": "2026-01-30T09:15:00Z", "severity": "high",
                "type": "brute_force_attack", "title": "t", "description": "d", "user": null,
                "sourceIp": "203.0.113.45", "confidence": 82, "status": "open",
                "service": "auth-service", "namespace": "prod",
                "evidence": {"count": 7, "threshold": 5, "window_minutes": 5, "key": "ip"}})
    );
    let mut bare = alert("y", "low", NOW.0);
    bare.confidence = Some(140.0);
    let v = &anomaly_list(vec![bare])[0];
    assert_eq!(v["confidence"], 100, "an integer 0–100");
    assert!(v.get("service").is_none() && v.get("evidence").is_none());
    let mut none = alert("z", "low", NOW.0);
    none.confidence = None;
    assert_eq!(anomaly_list(vec![none])[0]["confidence"], 0);
}

// ---------------------------------------------------------------- attackers

fn attacker(ip: &str, attacks: f64, last: i64) -> AttackerRow {
    AttackerRow {
        ip: Some(ip.into()),
        attacks: Some(attacks),
        services: Some(1.0),
        last_ts: Some(last as f64),
        ..AttackerRow::default()
    }
}

fn summary(n: f64) -> AttackerRow {
    AttackerRow {
        attackers: Some(n),
        ..AttackerRow::default()
    }
}

#[test]
fn attacker_severity_thresholds_and_the_anomaly_raise() {
    for (attacks, want) in [
        (1, "low"),
        (4, "low"),
        (5, "medium"),
        (20, "medium"),
        (21, "high"),
        (50, "high"),
        (51, "critical"),
    ] {
        assert_eq!(attacker_severity(attacks, 0), want, "{attacks}");
    }
    assert_eq!(attacker_severity(1, 3), "high", "raised by a high anomaly");
    assert_eq!(attacker_severity(60, 1), "critical", "never lowered");
    assert_eq!(attacker_severity(6, 4), "critical");
}

#[test]
fn attackers_sort_keep_ten_and_report_every_source() {
    let w = window(24);
    let end = w.end.0;
    let mut rows = vec![summary(14.0)];
    for i in 0..12 {
        rows.push(attacker(&format!("198.51.100.{i}"), 10.0, end - 1000));
    }
    rows.push(attacker("203.0.113.1", 30.0, end - 5000));
    rows.push(attacker("203.0.113.2", 30.0, end - 1000)); // same count, later: first
    let (list, sources) = top_attackers(&rows, &w, false);
    assert_eq!(sources, 14, "the full count, not capped at 10");
    assert_eq!(list.len(), 10);
    let ips: Vec<&str> = list
        .iter()
        .map(|a| a["sourceIp"].as_str().unwrap())
        .collect();
    assert_eq!(
        &ips[..4],
        ["203.0.113.2", "203.0.113.1", "198.51.100.0", "198.51.100.1"]
    );
    assert_eq!(
        ips[9], "198.51.100.5",
        "ties on attacks and time: by IP, as text"
    );
    assert_eq!(list[0]["severity"], "high");
    assert_eq!(list[2]["severity"], "medium");
}

#[test]
fn attacker_status_and_country() {
    let w = window(24);
    let end = w.end.0;
    let mut blocked = attacker("203.0.113.5", 3.0, end - 2 * ACTIVE_MS);
    blocked.blocked = Some(1.0);
    blocked.geo = Some("RU".into());
    let mut raised = attacker("203.0.113.6", 3.0, end - ACTIVE_MS);
    raised.worst = Some(4.0);
    raised.services = Some(2.0);
    let stale = attacker("203.0.113.7", 3.0, end - ACTIVE_MS - 1000);
    let rows = [summary(3.0), blocked, raised, stale];
    let (list, _) = top_attackers(&rows, &w, false);
    let by_ip = |ip: &str| list.iter().find(|a| a["sourceIp"] == ip).unwrap().clone();
    assert_eq!(
        by_ip("203.0.113.5"),
        json!({"sourceIp": "203.0.113.5", "country": "RU", "attacks": 3, "servicesTargeted": 1,
               "severity": "low", "status": "blocked"})
    );
    let r = by_ip("203.0.113.6");
    assert_eq!(
        (
            r["status"].clone(),
            r["severity"].clone(),
            r["servicesTargeted"].clone()
        ),
        (json!("active"), json!("critical"), json!(2)),
        "exactly 60 min before end is still active"
    );
    assert_eq!(r["country"], "Unknown");
    assert_eq!(by_ip("203.0.113.7")["status"], "inactive");
    let (redacted, _) = top_attackers(&rows, &w, true);
    assert!(redacted.iter().all(|a| a["country"] == "Unknown"));
    assert_eq!(top_attackers(&[summary(0.0)], &w, false), (vec![], 0));
}

// ---------------------------------------------------------------- Sankey

fn flow(service: &str, t: &str, n: f64) -> FlowRow {
    FlowRow {
        service: service.into(),
        log_type: t.into(),
        n,
    }
}

fn src(source: &str, total: f64, service: &str, n: f64) -> SourceRow {
    SourceRow {
        source: source.into(),
        total,
        service: service.into(),
        n,
    }
}

/// Checks the §3.4 invariants and returns (nodes as (name, layer), links as (from, to, value)).
#[allow(clippy::type_complexity)]
fn sankey_parts(v: &Value) -> (Vec<(String, String)>, Vec<(String, String, u64)>) {
    let nodes = v["sankeyData"]["nodes"].as_array().unwrap();
    let links = v["sankeyData"]["links"].as_array().unwrap();
    let layer = |l: &str| {
        ["source", "device", "telemetry"]
            .iter()
            .position(|x| *x == l)
            .unwrap()
    };
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(n["id"], i, "ids are indexes");
        if i > 0 {
            assert!(
                layer(nodes[i - 1]["layer"].as_str().unwrap())
                    <= layer(n["layer"].as_str().unwrap())
            );
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut used = std::collections::BTreeSet::new();
    for l in links {
        let (s, t) = (
            l["source"].as_u64().unwrap() as usize,
            l["target"].as_u64().unwrap() as usize,
        );
        assert!(seen.insert((s, t)), "links are de-duplicated");
        assert_eq!(
            layer(nodes[t]["layer"].as_str().unwrap()),
            layer(nodes[s]["layer"].as_str().unwrap()) + 1,
            "strictly layered"
        );
        assert!(l["value"].as_u64().unwrap() > 0);
        used.insert(s);
        used.insert(t);
    }
    assert_eq!(used.len(), nodes.len(), "only nodes that appear in a link");
    assert_eq!(v["networkFlows"], links.len());
    assert_eq!(v["activeNodes"], nodes.len());
    let name = |i: u64| nodes[i as usize]["name"].as_str().unwrap().to_string();
    (
        nodes
            .iter()
            .map(|n| {
                (
                    n["name"].as_str().unwrap().into(),
                    n["layer"].as_str().unwrap().into(),
                )
            })
            .collect(),
        links
            .iter()
            .map(|l| {
                (
                    name(l["source"].as_u64().unwrap()),
                    name(l["target"].as_u64().unwrap()),
                    l["value"].as_u64().unwrap(),
                )
            })
            .collect(),
    )
}

#[test]
fn an_empty_window_has_an_empty_sankey() {
    let v = network_flow(&[], &[]);
    assert_eq!(
        v,
        json!({"totalEvents": 0, "networkFlows": 0, "activeNodes": 0,
               "sankeyData": {"nodes": [], "links": []}})
    );
}

#[test]
fn sankey_layers_merge_other_and_deduplicate() {
    let flows = [
        flow("auth", "login_failure", 6.0),
        flow("auth", "login_success", 4.0),
        flow("web", "network_event", 5.0),
        flow("web", "network_scan", 1.0),
        flow("web", "login_failure", 1.0),
    ];
    // Two top sources; a repeated (source, service) row is summed into one link.
    let sources = [
        src("203.0.113.1", 7.0, "auth", 5.0),
        src("203.0.113.1", 7.0, "web", 1.0),
        src("203.0.113.1", 7.0, "web", 1.0),
        src("unknown", 3.0, "web", 3.0),
    ];
    let v = network_flow(&flows, &sources);
    assert_eq!(v["totalEvents"], 17);
    let (nodes, links) = sankey_parts(&v);
    let n = |name: &str, layer: &str| (name.to_string(), layer.to_string());
    assert_eq!(
        nodes,
        vec![
            n("203.0.113.1", "source"),
            n("other", "source"),
            n("unknown", "source"),
            n("auth", "device"),
            n("web", "device"),
            n("login_failure", "telemetry"),
            n("login_success", "telemetry"),
            n("network_scan", "telemetry"),
            n("network_event", "telemetry"),
        ],
        "sources by count (other = 17 − 10 = 7 ties 203.0.113.1 and goes after it), then \
         services by count, then types in §4 order"
    );
    let l = |a: &str, b: &str, v: u64| (a.to_string(), b.to_string(), v);
    assert_eq!(
        links,
        vec![
            l("203.0.113.1", "auth", 5),
            l("203.0.113.1", "web", 2),
            l("other", "auth", 5),
            l("other", "web", 2),
            l("unknown", "web", 3),
            l("auth", "login_failure", 6),
            l("auth", "login_success", 4),
            l("web", "login_failure", 1),
            l("web", "network_scan", 1),
            l("web", "network_event", 5),
        ]
    );
    let into_services: u64 = links
        .iter()
        .filter(|x| x.1 == "auth" || x.1 == "web")
        .map(|x| x.2)
        .sum();
    let out_of_services: u64 = links
        .iter()
        .filter(|x| x.0 == "auth" || x.0 == "web")
        .map(|x| x.2)
        .sum();
    assert_eq!(
        (into_services, out_of_services),
        (17, 17),
        "every item flows through"
    );
}

#[test]
fn no_other_node_when_the_top_sources_cover_everything() {
    let v = network_flow(
        &[flow("auth", "iam_change", 2.0)],
        &[src("10.0.0.1", 2.0, "auth", 2.0)],
    );
    let (nodes, links) = sankey_parts(&v);
    assert_eq!(nodes.len(), 3);
    assert!(!nodes.iter().any(|n| n.0 == "other"));
    assert_eq!(links.len(), 2);
    // Zero-valued rows and unknown types make no links and no nodes.
    let v = network_flow(
        &[
            flow("auth", "iam_change", 2.0),
            flow("web", "network_event", 0.0),
            flow("x", "bogus", 4.0),
        ],
        &[
            src("10.0.0.1", 2.0, "auth", 2.0),
            src("10.0.0.2", 0.0, "web", 0.0),
        ],
    );
    let (nodes, _) = sankey_parts(&v);
    assert_eq!(
        nodes.iter().map(|n| n.0.as_str()).collect::<Vec<_>>(),
        ["10.0.0.1", "auth", "iam_change"]
    );
}

// ---------------------------------------------------------------- the whole response

fn to_rows<T: serde::Serialize>(rows: &[T]) -> Vec<Value> {
    rows.iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

/// The batch of a small window: the rollup rows and raw rows a real batch would return.
fn batch(w: &Window) -> Vec<Vec<Value>> {
    let mut all = vec![Vec::new(); STATEMENT_COUNT];
    all[BUCKETS] = to_rows(&[
        json!({"hour": w.start.0, "total": 4, "critical": 1, "warnings": 2, "failed": 2, "iam": 1, "hostile": 2}),
        json!({"hour": NOW_HOUR, "total": 2, "critical": 0, "warnings": 0, "failed": 0, "iam": 0, "hostile": 1}),
    ]);
    all[FLOWS] = to_rows(&[
        json!({"service": "auth-service", "type": "login_failure", "n": 2}),
        json!({"service": "auth-service", "type": "iam_change", "n": 1}),
        json!({"service": "web", "type": "network_event", "n": 3}),
    ]);
    all[SOURCES] = to_rows(&[
        json!({"source": "203.0.113.45", "total": 3, "service": "auth-service", "n": 2, "proven": 1}),
        json!({"source": "203.0.113.45", "total": 3, "service": "web", "n": 1, "proven": 1}),
        json!({"source": "unknown", "total": 3, "service": "web", "n": 2, "proven": 1}),
    ]);
    all[ATTACKERS] = to_rows(&[
        json!({"ip": null, "attackers": 1, "proven": 1, "attacks": null, "services": null, "last_ts": null,
               "geo": null, "worst": null, "blocked": null}),
        json!({"ip": "203.0.113.45", "attackers": null, "proven": null, "attacks": 3, "services": 2,
               "last_ts": w.end.0 - 60_000, "geo": "DE", "worst": 3, "blocked": 0}),
    ]);
    all[LOGS] = to_rows(&[
        json!({"id": 3, "ts": w.end.0 - 1000, "type": "login_failure", "action": null, "level": "warning",
               "service": "auth-service", "namespace": "prod", "source_ip": "203.0.113.45", "user": "admin",
               "hostname": null, "target_ip": null, "geo": "DE", "device": null, "vpn": null, "status_code": 401,
               "event_id": null}),
        json!({"id": 2, "ts": w.end.0 - 2000, "type": "network_event", "action": null, "level": "info",
               "service": "web", "namespace": "prod", "source_ip": null, "user": null, "hostname": null,
               "target_ip": null, "geo": "DE", "device": null, "vpn": 1, "status_code": null,
               "event_id": "6ba7b810-9dad-41d1-80b4-00c04fd430c8"}),
    ]);
    all[IAM] = to_rows(&[
        json!({"ts": w.start.0 + 10, "user": "ci", "action": "policy_attached",
                                "resource": "role/deploy", "service": "auth-service"}),
    ]);
    all[ANOMALIES] = to_rows(&[
        json!({"id": "a1", "created_at": w.end.0 - 5000, "severity": "high",
        "alert_type": "brute_force_attack", "title": "Brute force", "description": "7 failed logins",
        "actor_id": "admin", "source_ip": "203.0.113.45", "status": "open", "confidence": 82,
        "evidence": "{\"count\":7}", "service": "auth-service", "namespace": "prod"}),
    ]);
    all[ANOMALY_COUNTS] = to_rows(&[
        json!({"severity": "high", "n": 1}),
        json!({"severity": "critical", "n": 2}),
    ]);
    all
}

#[test]
fn the_whole_response() {
    let w = window(24);
    let v = assemble(batch(&w), &w, false).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "anomalies",
            "attackPatternHeatmap",
            "iamChanges",
            "lastUpdated",
            "logs",
            "networkFlow",
            "securityEventsTimeline",
            "stats",
            "threatDistribution",
            "timeRange",
            "topAttackers"
        ]
    );
    assert_eq!(
        v["timeRange"],
        json!({"start": "2026-01-29T09:00:00Z", "end": "2026-01-30T09:15:00Z", "hours": 24})
    );
    assert_eq!(v["lastUpdated"], "2026-01-30T09:15:00Z");
    assert_eq!(
        v["stats"],
        json!({"totalEvents": 6, "totalAnomalies": 3, "criticalThreats": 2, "failedLogins": 2,
               "iamChanges": 1, "attackSources": 1, "eventsPerHour": 0.3})
    );
    assert_eq!(
        v["threatDistribution"],
        json!([{"level": "critical", "count": 2}, {"level": "high", "count": 1},
               {"level": "medium", "count": 0}, {"level": "low", "count": 0}])
    );
    assert_eq!(v["securityEventsTimeline"].as_array().unwrap().len(), 25);
    assert_eq!(v["attackPatternHeatmap"]["data"][3][9], 2, "Thursday 09:00");
    assert_eq!(v["attackPatternHeatmap"]["data"][4][9], 1, "Friday 09:00");
    assert_eq!(v["logs"][0]["id"], format!("3-{}", (w.end.0 - 1000) / 1000));
    assert_eq!(v["logs"][1]["vpn"], true);
    assert_eq!(v["iamChanges"][0]["changedBy"], "ci");
    assert_eq!(v["anomalies"][0]["evidence"], json!({"count": 7}));
    assert_eq!(
        v["topAttackers"],
        json!([{"sourceIp": "203.0.113.45", "country": "DE", "attacks": 3, "servicesTargeted": 2,
                "severity": "high", "status": "active"}])
    );
    let nf = &v["networkFlow"];
    assert_eq!(nf["totalEvents"], 6);
    let (_, links) = sankey_parts(nf);
    assert!(links.contains(&("other".into(), "auth-service".into(), 1)));

    let free = assemble(batch(&w), &w, true).unwrap();
    assert_eq!(free["topAttackers"][0]["country"], "Unknown");
    assert!(free["logs"][1].get("vpn").is_none() && free["logs"][1].get("geo").is_none());
    assert_eq!(free["logs"][0]["geo"], "DE", "a raw line keeps its own geo");
}

#[test]
fn limits_of_zero_empty_the_lists_but_not_the_counts() {
    let w = window(24);
    let mut rows = batch(&w);
    for i in [LOGS, IAM, ANOMALIES] {
        rows[i].clear(); // what LIMIT 0 returns
    }
    let v = assemble(rows, &w, false).unwrap();
    assert_eq!(v["logs"], json!([]));
    assert_eq!(v["iamChanges"], json!([]));
    assert_eq!(v["anomalies"], json!([]));
    assert_eq!(v["stats"]["totalEvents"], 6);
    assert_eq!(v["stats"]["iamChanges"], 1);
    assert_eq!(v["stats"]["totalAnomalies"], 3);
}

#[test]
fn an_empty_window_is_a_complete_response() {
    let w = window(1);
    let mut rows = vec![Vec::new(); STATEMENT_COUNT];
    rows[ATTACKERS] = vec![json!({"ip": null, "attackers": 0, "proven": 1})];
    let v = assemble(rows, &w, false).unwrap();
    assert_eq!(v["securityEventsTimeline"].as_array().unwrap().len(), 2);
    assert_eq!(v["stats"]["eventsPerHour"], 0.0);
    assert_eq!(v["topAttackers"], json!([]));
    assert_eq!(v["threatDistribution"].as_array().unwrap().len(), 4);
    assert_eq!(v["networkFlow"]["activeNodes"], 0);
    assert_eq!(v["attackPatternHeatmap"]["maxValue"], 0);
}

#[test]
fn malformed_rows_are_an_error_not_a_panic() {
    let w = window(24);
    assert!(assemble(vec![], &w, false).is_err());
    let mut rows = batch(&w);
    rows[FLOWS] = vec![json!({"service": 5})];
    let e = assemble(rows, &w, false).unwrap_err();
    assert!(e.to_string().contains("statement 1"), "{e}");
}

#[test]
fn rows_arrive_as_one_json_array_per_statement_in_any_order() {
    let w = window(24);
    let packed: Vec<Vec<Value>> = batch(&w)
        .into_iter()
        .map(|mut rows| {
            rows.reverse(); // json_group_array's order is not relied on
            vec![json!({ "rows": Value::Array(rows).to_string() })]
        })
        .collect();
    let v = assemble(packed, &w, false).unwrap();
    assert_eq!(v, assemble(batch(&w), &w, false).unwrap());
    assert_eq!(
        v["logs"][0]["_metadata"]["status_code"], 401,
        "newest first"
    );
    let mut empty = vec![vec![json!({"rows": "[]"})]; STATEMENT_COUNT];
    empty[ATTACKERS] = vec![json!({"rows": "[{\"ip\":null,\"attackers\":0}]"})];
    assert_eq!(
        assemble(empty, &w, false).unwrap()["stats"]["totalEvents"],
        0
    );
    let mut bad = batch(&w);
    bad[IAM] = vec![json!({"rows": "[{\"ts\": \"x\"}]"})];
    assert!(assemble(bad, &w, false).is_err());
}
