//! The protobuf push: decoded into the JSON push's streams, under its limits, and label sets
//! parsed strictly.

use super::*;

fn push(streams: Vec<StreamAdapter>) -> Vec<u8> {
    let raw = PushRequest { streams }.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).unwrap()
}

fn stream(labels: &str, lines: &[(i64, &str)]) -> StreamAdapter {
    StreamAdapter {
        labels: labels.into(),
        entries: lines
            .iter()
            .map(|(ms, line)| EntryAdapter {
                timestamp: Some(Timestamp {
                    seconds: ms / 1000,
                    nanos: ((ms % 1000) * 1_000_000) as i32,
                }),
                line: (*line).into(),
                structured_metadata: vec![],
            })
            .collect(),
    }
}

#[test]
fn a_promtail_push_becomes_streams_of_entries() {
    let mut s = stream(
        r#"{job="sshd", host="web-1", msg="a \"quoted\" \\ value"}"#,
        &[(1_769_764_500_123, "Failed password for root")],
    );
    s.entries[0].structured_metadata = vec![LabelPair {
        name: "trace_id".into(),
        value: "abc".into(),
    }];
    let parsed =
        parse_proto_push(&push(vec![s, stream("{}", &[(1_000, "x"), (2_000, "y")])])).unwrap();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0].labels["job"], "sshd");
    assert_eq!(parsed[0].labels["msg"], r#"a "quoted" \ value"#);
    assert_eq!(parsed[0].entries[0].ts, UnixMs(1_769_764_500_123));
    assert_eq!(parsed[0].entries[0].line, "Failed password for root");
    assert_eq!(
        parsed[0].entries[0].structured.as_ref().unwrap()["trace_id"],
        "abc"
    );
    assert!(parsed[1].labels.is_empty());
    assert_eq!(parsed[1].entries.len(), 2);
}

#[test]
fn bodies_that_are_not_snappy_or_not_a_push_are_400() {
    assert_eq!(parse_proto_push(b"").unwrap_err().status(), 400);
    assert_eq!(
        parse_proto_push(b"{\"streams\":[]}").unwrap_err().status(),
        400
    );
    let garbage = snap::raw::Encoder::new().compress_vec(&[0xff; 64]).unwrap();
    assert_eq!(parse_proto_push(&garbage).unwrap_err().status(), 400);
    let e = parse_proto_push(&push(vec![stream("job=sshd", &[(1, "x")])])).unwrap_err();
    assert_eq!(
        (e.status(), e.details[0].field.as_str()),
        (400, "streams[0].labels")
    );
}

#[test]
fn limits_hold_before_and_after_decompression() {
    // A snappy header claiming more than the limit is refused before anything is allocated.
    let mut claim = Vec::new();
    let mut n = (MAX_BODY_BYTES + 1) as u64;
    while n >= 0x80 {
        claim.push((n as u8) | 0x80);
        n >>= 7;
    }
    claim.push(n as u8);
    claim.extend_from_slice(&[0; 16]);
    assert_eq!(parse_proto_push(&claim).unwrap_err().status(), 413);
    let many: Vec<(i64, &str)> = (0..=MAX_ENTRIES as i64).map(|i| (i, "x")).collect();
    assert_eq!(
        parse_proto_push(&push(vec![stream("{}", &many)]))
            .unwrap_err()
            .status(),
        413
    );
    let labels = format!(
        "{{{}}}",
        (0..=MAX_LABELS)
            .map(|i| format!("l{i}=\"v\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        parse_proto_push(&push(vec![stream(&labels, &[(1, "x")])]))
            .unwrap_err()
            .status(),
        413
    );
}

#[test]
fn label_sets_parse_strictly() {
    let ok = parse_label_set(r#" { a="1" ,b_2 = "two", c="x\ny" } "#).unwrap();
    assert_eq!(
        (ok["a"].as_str(), ok["b_2"].as_str(), ok["c"].as_str()),
        (Some("1"), Some("two"), Some("x\ny"))
    );
    for bad in [
        "",
        "a=\"1\"",
        "{a=1}",
        "{1a=\"x\"}",
        "{a=\"x}",
        "{a=\"x\" b=\"y\"}",
        "{a=\"\\q\"}",
        "{=\"x\"}",
    ] {
        assert!(
            matches!(parse_label_set(bad), Err(LabelSetError::Malformed(_))),
            "{bad}"
        );
    }
}
