use super::*;

/// 2026-01-01T00:00:00Z and 2026-02-01T00:00:00Z.
const JAN: i64 = 1_767_225_600_000;
const FEB: i64 = 1_769_904_000_000;
const S: i64 = 1000;

fn b(sec: i64, count: u32) -> Bucket {
    Bucket {
        sec,
        count,
        budget: Budget::Events,
    }
}

fn item(rate_limit: Option<u32>, monthly_limit: Option<u64>, reserve: u64) -> Admission {
    Admission {
        rate_limit,
        monthly_limit,
        reserve,
        budget: Budget::Events,
    }
}

/// The state the written row holds, as the object reads it back after a restart.
fn reloaded(row: &Row) -> Stored {
    Stored::from_row(row).expect("the row parses")
}

#[test]
fn a_row_round_trips_with_the_live_buckets_oldest_first() {
    let now = JAN + 100 * S + 500;
    let sec = now / 1000;
    let stored = Stored {
        month: "2026-01".into(),
        used: 1_234_567,
        buckets: vec![b(sec, 4), b(sec - 59, 2), b(sec - 60, 9), b(sec - 3, 1)],
    };
    let row = stored.row(now);
    assert_eq!(row.month, "2026-01");
    assert_eq!(row.used, 1_234_567);
    assert_eq!(
        row.buckets,
        format!("[[{},2],[{},1],[{},4]]", sec - 59, sec - 3, sec),
        "the bucket at now − 60 s left the window and is not stored"
    );
    let back = reloaded(&row);
    assert_eq!(back.month, stored.month);
    assert_eq!(back.used, stored.used);
    assert_eq!(back.buckets, vec![b(sec - 59, 2), b(sec - 3, 1), b(sec, 4)]);
    assert_eq!(back.row(now), row, "stored again unchanged");
}

#[test]
fn an_unreadable_row_is_an_error_not_an_empty_window() {
    for bad in ["", "{}", "[[1]]", "[[1,-1]]", "[[1,2],"] {
        let row = Row {
            month: "2026-01".into(),
            used: 3,
            buckets: bad.into(),
        };
        assert!(Stored::from_row(&row).is_err(), "{bad:?}");
    }
}

#[test]
fn an_admitted_call_writes_one_row_and_a_refused_one_none() {
    let now = UnixMs(JAN + 10 * S);
    let call = admit(Stored::default(), &[item(Some(2), Some(100), 1)], now);
    assert!(call.reply[0].rate.unwrap().allowed);
    let row = call.write.clone().expect("the first admission is written");
    assert_eq!((row.month.as_str(), row.used), ("2026-01", 1));
    // A round of three: the two the rate limit leaves are admitted, one row for the round.
    let call = admit(
        call.state,
        &[
            item(Some(3), Some(100), 2),
            item(Some(3), Some(100), 2),
            item(Some(3), Some(100), 2),
        ],
        UnixMs(now.0 + 300),
    );
    let allowed: Vec<bool> = call.reply.iter().map(|r| r.rate.unwrap().allowed).collect();
    assert_eq!(allowed, [true, true, false]);
    let row = call.write.clone().expect("written once");
    assert_eq!(row.used, 5);
    assert_eq!(row.buckets, format!("[[{},3]]", now.0 / 1000));
    // Refused by the rate limit: nothing changes, nothing is written.
    let refused = admit(
        call.state.clone(),
        &[item(Some(3), Some(100), 1)],
        UnixMs(now.0 + 900),
    );
    assert!(!refused.reply[0].rate.unwrap().allowed);
    assert_eq!(refused.write, None);
    assert_eq!(refused.state, call.state);
    // Refused by the quota (the rate limit admits and counts it): the bucket is written.
    let full = Stored {
        used: 100,
        ..call.state.clone()
    };
    let over = admit(full, &[item(Some(10), Some(100), 1)], UnixMs(now.0 + 900));
    assert!(over.reply[0].denied.is_some());
    assert_eq!(over.write.expect("the request counts").used, 100);
    // No rate limit and nothing reserved (GET /health of an unlimited organisation): no write.
    let read = admit(
        call.state.clone(),
        &[item(None, None, 0)],
        UnixMs(now.0 + 900),
    );
    assert_eq!(read.write, None);
    assert_eq!(read.reply[0].quota.used, 5);
}

#[test]
fn buckets_that_leave_the_window_are_dropped_when_the_row_is_next_written() {
    let start = JAN + 1000 * S;
    let limit = item(Some(5), None, 0);
    let stored = Stored {
        month: "2026-01".into(),
        used: 0,
        buckets: vec![b(start / 1000, 5)],
    };
    // 30 s later: still full; refused, and aging alone writes nothing.
    let refused = admit(stored.clone(), &[limit], UnixMs(start + 30 * S));
    assert!(!refused.reply[0].rate.unwrap().allowed);
    assert_eq!(refused.write, None);
    // 60 s later the bucket has left: admitted, and the row holds only the new second.
    let later = UnixMs(start + 60 * S);
    let call = admit(refused.state, &[limit], later);
    assert!(call.reply[0].rate.unwrap().allowed);
    assert_eq!(
        call.write.unwrap().buckets,
        format!("[[{},1]]", later.0 / 1000)
    );
}

#[test]
fn the_row_stays_bounded_whatever_the_traffic() {
    // Ten minutes of 7 requests a second, each call written: at most 60 buckets in the row.
    let mut stored = Stored::default();
    let mut longest = 0;
    for i in 0..600 * 7 {
        let now = UnixMs(JAN + i * S / 7);
        let call = admit(stored, &[item(Some(1_000_000), None, 0)], now);
        let row = call.write.expect("each admitted request is counted");
        let n = reloaded(&row).buckets.len();
        assert!(n <= WINDOW_SECONDS as usize, "{n} buckets at {i}");
        longest = longest.max(row.buckets.len());
        stored = call.state;
    }
    assert!(stored.buckets.len() <= 61);
    assert!(longest < 60 * 24, "{longest} bytes");
}

#[test]
fn a_new_month_starts_at_zero_and_the_month_never_goes_back() {
    let stored = Stored {
        month: "2026-01".into(),
        used: 90,
        buckets: vec![],
    };
    // The first call of February reserves from zero; January's usage is gone.
    let call = admit(
        stored.clone(),
        &[item(None, Some(100), 30)],
        UnixMs(FEB + 5 * S),
    );
    assert_eq!(call.reply[0].denied, None);
    assert_eq!(call.reply[0].quota.month, "2026-02");
    assert_eq!(call.reply[0].quota.used, 30);
    let row = call.write.expect("written");
    assert_eq!((row.month.as_str(), row.used), ("2026-02", 30));
    // A read in a new month reports zero and needs no write: the old row already means zero.
    let read = admit(
        stored.clone(),
        &[item(None, Some(100), 0)],
        UnixMs(FEB + 5 * S),
    );
    assert_eq!(read.reply[0].quota.used, 0);
    assert_eq!(read.reply[0].quota.month, "2026-02");
    assert_eq!(read.write, None);
    // And stays zero on the next call from either the kept state or the old row.
    for from in [read.state, stored] {
        let again = admit(from, &[item(None, Some(100), 1)], UnixMs(FEB + 6 * S));
        assert_eq!(again.reply[0].quota.used, 1);
    }
    // A clock a moment behind, just before February: still counted in February.
    let behind = admit(
        reloaded(&row),
        &[item(None, Some(100), 70)],
        UnixMs(FEB - 1),
    );
    assert_eq!(behind.reply[0].quota.month, "2026-02");
    assert_eq!(behind.reply[0].quota.used, 100);
    assert_eq!(behind.write.unwrap().month, "2026-02");
}

#[test]
fn refunds_give_back_the_current_month_only() {
    let stored = Stored {
        month: "2026-01".into(),
        used: 50,
        buckets: vec![b(JAN / 1000, 1)],
    };
    let now = UnixMs(JAN + 10 * S);
    let call = refund(stored.clone(), 20, "2026-01", Some(100), now);
    assert_eq!(call.reply.quota.used, 30);
    assert_eq!(call.reply.quota.limit, Some(100));
    assert_eq!(call.reply.rate, None);
    let row = call.write.expect("one row");
    assert_eq!(row.used, 30);
    assert_eq!(
        reloaded(&row).buckets,
        vec![b(JAN / 1000, 1)],
        "the window is kept"
    );
    // More than reserved: down to zero, never below.
    assert_eq!(
        refund(stored.clone(), 80, "2026-01", None, now)
            .reply
            .quota
            .used,
        0
    );
    // A past month's refund counts nowhere any more: nothing written.
    let past = refund(stored.clone(), 20, "2025-12", None, now);
    assert_eq!(past.reply.quota.used, 50);
    assert_eq!(past.write, None);
    // January's reservation refunded in February: February's usage is untouched.
    let feb = refund(stored.clone(), 20, "2026-01", None, UnixMs(FEB + S));
    assert_eq!(
        (feb.reply.quota.month.as_str(), feb.reply.quota.used),
        ("2026-02", 0)
    );
    assert_eq!(feb.write, None);
    assert_eq!(refund(stored, 0, "2026-01", None, now).write, None);
}

#[test]
fn the_old_layout_is_carried_over_the_latest_month_and_every_bucket() {
    let now = JAN + 500 * S;
    let sec = now / 1000;
    let carried = Stored::carry_over(
        vec![b(sec - 70, 9), b(sec - 10, 2), b(sec - 1, 1)],
        &[
            ("2025-11".into(), 7),
            ("2026-01".into(), 90),
            ("2025-12".into(), 500),
        ],
    );
    assert_eq!((carried.month.as_str(), carried.used), ("2026-01", 90));
    let row = carried.row(now);
    assert_eq!(row.used, 90);
    assert_eq!(row.buckets, format!("[[{},2],[{},1]]", sec - 10, sec - 1));
    // The carried window and month keep counting: limit 5 with 3 in the window admits 2 more;
    // quota 100 with 90 used takes 10 more.
    let call = admit(
        reloaded(&row),
        &[
            item(Some(5), Some(100), 4),
            item(Some(5), Some(100), 6),
            item(Some(5), Some(100), 1),
        ],
        UnixMs(now),
    );
    let allowed: Vec<bool> = call.reply.iter().map(|r| r.rate.unwrap().allowed).collect();
    assert_eq!(allowed, [true, true, false]);
    assert_eq!(call.reply[1].quota.used, 100);
    // Nothing stored before (a new object's empty tables): a new, empty state.
    assert_eq!(Stored::carry_over(vec![], &[]), Stored::default());
    // Only earlier months: carried, then rolled over by the next call.
    let old = Stored::carry_over(vec![], &[("2025-12".into(), 500)]);
    let call = admit(old, &[item(None, Some(100), 1)], UnixMs(now));
    assert_eq!(
        (call.reply[0].quota.month.as_str(), call.reply[0].quota.used),
        ("2026-01", 1)
    );
}

/// A tiny deterministic generator for the sequence test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn an_object_that_restarts_after_every_call_decides_exactly_as_one_that_never_does() {
    // Object A keeps its state in memory; object B is evicted after every call and reloads the
    // last row it wrote (and nothing when a call wrote none). Both see the same calls: bursts,
    // pauses past the window, refunds, and a month's end. Every answer must be the same, so the
    // row written (or not written) always holds everything that matters.
    let mut rng = Lcg(7);
    let mut a = Stored::default();
    let mut b_row: Option<Row> = None;
    let mut now = FEB - 400 * S;
    let mut writes = 0;
    for step in 0..3000 {
        now += match rng.next(10) {
            0 => 61 * S,
            1..=3 => S,
            _ => rng.next(400) as i64,
        };
        let b = b_row.as_ref().map(reloaded).unwrap_or_default();
        if rng.next(8) == 0 {
            let month = if rng.next(4) == 0 {
                "2026-01"
            } else {
                "2026-02"
            };
            let count = rng.next(5);
            let ca = refund(a, count, month, Some(40), UnixMs(now));
            let cb = refund(b, count, month, Some(40), UnixMs(now));
            assert_eq!(ca.reply, cb.reply, "step {step}");
            assert_eq!(ca.write, cb.write, "step {step}");
            writes += usize::from(cb.write.is_some());
            b_row = cb.write.or(b_row);
            a = ca.state;
            continue;
        }
        let items: Vec<Admission> = (0..=rng.next(3))
            .map(|_| item(Some(6), Some(40), rng.next(4)))
            .collect();
        let ca = admit(a, &items, UnixMs(now));
        let cb = admit(b, &items, UnixMs(now));
        assert_eq!(ca.reply, cb.reply, "step {step}");
        writes += usize::from(cb.write.is_some());
        b_row = cb.write.or(b_row);
        a = ca.state;
    }
    assert!(writes > 500 && writes < 3000, "{writes} calls wrote a row");
}

#[test]
fn budgets_round_trip_through_the_row_and_old_rows_are_events() {
    let now = 1_000_000;
    let stored = Stored {
        month: "2026-12".into(),
        used: 4,
        buckets: vec![
            b(999, 2),
            Bucket {
                sec: 999,
                count: 5,
                budget: Budget::Logs,
            },
            Bucket {
                sec: 1000,
                count: 1,
                budget: Budget::Reads,
            },
        ],
    };
    let row = stored.row(now);
    assert_eq!(row.buckets, "[[999,2],[999,5,1],[1000,1,2]]");
    assert_eq!(Stored::from_row(&row).unwrap(), stored);
    let old = Row {
        month: "2026-12".into(),
        used: 0,
        buckets: "[[999,2]]".into(),
    };
    assert_eq!(Stored::from_row(&old).unwrap().buckets, vec![b(999, 2)]);
    for bad in ["[[999,2,9]]", "[[999]]", "[[999,-1]]"] {
        let row = Row {
            buckets: bad.into(),
            ..old.clone()
        };
        assert!(Stored::from_row(&row).is_err(), "{bad}");
    }
}
