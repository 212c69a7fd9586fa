"""The official Python SDK (litesoc 2.6.0, unmodified) against edgesoc, pointed at it by base URL only.

Run through tests/sdk/run.sh, which starts the built Worker on 127.0.0.1 (tests/api/serve.mjs) and
exports SERVE_URL and the keys: SERVE_KEY (pro), SERVE_FREE_KEY (free), SERVE_LIMITED_KEY
(enterprise, 5 requests/min, 3 events/month).
"""

import os
import time
import uuid

import pytest
import requests

import litesoc
from litesoc import (
    LiteSOC,
    LiteSOCAuthError,
    NotFoundError,
    PlanRestrictedError,
    RateLimitError,
    ValidationError,
)

URL = os.environ.get("SERVE_URL", "")
KEY = os.environ.get("SERVE_KEY", "")
FREE_KEY = os.environ.get("SERVE_FREE_KEY", "")
LIMITED_KEY = os.environ.get("SERVE_LIMITED_KEY", "")

pytestmark = pytest.mark.skipif(not URL.startswith("http://127.0.0.1:"), reason="run through tests/sdk/run.sh")


def sdk(key=KEY, **kw):
    """A client with the options docs/api.md §9.12 recommends for tests."""
    kw.setdefault("batching", False)
    kw.setdefault("silent", False)
    kw.setdefault("timeout", 10.0)
    return LiteSOC(api_key=key, base_url=URL, **kw)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def eventually(fn, timeout=15.0, interval=0.2):
    """Polls `fn` until it returns something truthy (events are stored by the queue consumer)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    return last


def events_of(client, actor, n):
    def poll():
        data = client.get_events(actor_id=actor)["data"]
        return data if len(data) >= n else None

    return eventually(poll) or []


def test_sdk_version_is_the_pinned_one():
    assert litesoc.__version__ == "2.6.0"


def test_track_one_event_and_read_it_back():
    client = sdk()
    actor = unique("alice")
    assert client.track(
        "auth.login_failed",
        actor_id=actor,
        actor_email="alice@example.com",
        user_ip="203.0.113.50",
        severity="critical",  # ignored by the server
        metadata={"method": "password"},
    )
    info = client.get_plan_info()
    assert info is not None and info.plan == "pro" and info.retention_days == 30
    assert info.quota_limit == 500000 and info.quota_used >= 1
    assert info.quota_remaining == info.quota_limit - info.quota_used
    [event] = events_of(client, actor, 1)
    assert event["event_name"] == "auth.login_failed"
    assert event["severity"] == "medium", "severity is server-assigned"
    assert event["actor"] == {"id": actor, "email": "alice@example.com"}
    assert event["user_ip"] == "203.0.113.50"
    assert event["metadata"]["_sdk"] == "litesoc-python"
    assert event["metadata"]["_sdk_version"] == "2.6.0"
    assert event["metadata"]["method"] == "password"
    # The SDK's own Event type reads the object.
    parsed = litesoc.Event.from_dict(event)
    assert parsed.id == event["id"] and parsed.actor_id == actor


def test_track_batch_sends_one_request_of_many_events():
    client = sdk()
    actor = unique("batch")
    accepted = client.track_batch(
        [
            {"event_name": "auth.login_success", "actor_id": actor, "user_ip": "198.51.100.7"},
            {"event_name": "data.export", "actor_id": actor, "metadata": {"rows": 500}},
            {"event": "billing.invoice_paid", "actor": {"id": actor, "email": "b@example.com"}},
        ]
    )
    assert accepted == 3
    names = sorted(e["event_name"] for e in events_of(client, actor, 3))
    assert names == ["auth.login_success", "billing.invoice_paid", "data.export"]


def test_batching_client_flushes_queued_events_as_one_batch():
    client = sdk(batching=True, batch_size=50, flush_interval=60.0)
    actor = unique("queued")
    try:
        for name in ("auth.logout", "auth.mfa_enabled", "custom.thing_happened"):
            assert client.track(name, actor_id=actor, user_ip="unknown")
        assert client.get_queue_size() == 3
        assert client.flush() is True
        assert client.get_queue_size() == 0
        stored = events_of(client, actor, 3)
        assert len(stored) == 3
        custom = next(e for e in stored if e["event_name"] == "custom.thing_happened")
        assert custom["severity"] == "info", "custom events default to info"
        assert custom["forensics"] is None, "a non-IP user_ip is stored, not enriched"
    finally:
        client.shutdown()


def test_list_events_with_filters_and_pagination():
    client = sdk()
    actor = unique("filter")
    client.track_batch(
        [
            {"event_name": "auth.login_failed", "actor_id": actor},
            {"event_name": "auth.login_failed", "actor_id": actor},
            {"event_name": "auth.logout", "actor_id": actor},
        ]
    )
    events_of(client, actor, 3)
    page = client.get_events(event_name="auth.login_failed", actor_id=actor, severity="medium", limit=1)
    assert page["success"] is True
    assert [e["event_name"] for e in page["data"]] == ["auth.login_failed"]
    assert page["pagination"]["total"] == 2
    assert page["pagination"]["limit"] == 1
    assert page["pagination"]["has_more"] is True
    second = client.get_events(event_name="auth.login_failed", actor_id=actor, limit=1, offset=1)
    assert second["pagination"]["offset"] == 1 and second["pagination"]["has_more"] is False
    assert second["data"][0]["id"] != page["data"][0]["id"]
    assert client.get_events(actor_id=actor, severity="info")["data"][0]["event_name"] == "auth.logout"
    assert page["meta"]["plan"] == "pro" and page["meta"]["redacted"] is False
    with pytest.raises(ValidationError) as bad:
        client.get_events(severity="urgent")
    assert bad.value.status_code == 400 and bad.value.error_code == "VALIDATION_ERROR"


def test_get_one_event_and_unknown_ids():
    client = sdk()
    actor = unique("single")
    client.track("auth.password_reset", actor_id=actor)
    [event] = events_of(client, actor, 1)
    one = client.get_event(event["id"])
    assert one["success"] is True and one["data"]["id"] == event["id"]
    assert one["meta"]["retention_days"] == 30
    with pytest.raises(NotFoundError) as missing:
        client.get_event(str(uuid.uuid4()))
    assert missing.value.error_code == "NOT_FOUND"
    with pytest.raises(NotFoundError):
        client.get_event("event_abc123")


def test_health():
    health = sdk().get_health()
    assert health["status"] == "ok"
    assert health["authenticated"] is True
    assert health["organization"]["name"] == "API Pro"
    assert health["plan"] == "pro"
    assert health["quota"]["limit"] == 500000
    assert health["rate_limit"] == {"limit": 1000, "window_seconds": 60}


def wait_for_alert(client, actor, alert_type):
    def poll():
        data = client.get_alerts(alert_type=alert_type, status="open")["data"]
        return next((a for a in data if a["actor_id"] == actor), None)

    alert = eventually(poll)
    assert alert, f"no {alert_type} alert for {actor}"
    return alert


def test_alerts_list_get_resolve_and_mark_safe():
    client = sdk()
    escalator, insider = unique("mallory"), unique("eve")
    client.track_privilege_escalation(escalator, user_ip="203.0.113.66", metadata={"new_role": "admin"})
    client.track_sensitive_access(insider, "payroll", user_ip="198.51.100.99")

    first = wait_for_alert(client, escalator, "privilege_escalation")
    assert first["severity"] == "critical" and first["status"] == "open"
    second = wait_for_alert(client, insider, "data_exfiltration")
    parsed = litesoc.Alert.from_dict(first)
    assert parsed.alert_type == "privilege_escalation"

    listed = client.get_alerts(severity="critical")
    assert {first["id"], second["id"]} <= {a["id"] for a in listed["data"]}
    assert listed["pagination"]["limit"] == 100 and listed["meta"]["max_limit"] == 500

    got = client.get_alert(first["id"])
    assert got["data"]["id"] == first["id"]
    assert got["data"]["trigger_event_id"], "the trigger event is linked"

    resolved = client.resolve_alert(first["id"], "blocked_ip", notes="blocked at the WAF", resolved_by="pytest")["data"]
    assert resolved["action"] == "resolve"
    assert resolved["status"] == "resolved"
    assert resolved["resolution_type"] == "blocked_ip"
    assert resolved["resolved_by"] == KEY[:14], "the caller (the key), never the body (docs/api.md 5.6)"
    assert resolved["metadata"]["resolved_by_note"] == "pytest", "the SDK's resolved_by kept as a note"
    assert resolved["resolved_at"]
    assert resolved["metadata"]["internal_notes"] == "blocked at the WAF"

    safe = client.mark_alert_safe(second["id"], notes="expected")["data"]
    assert safe["action"] == "mark_safe"
    assert safe["status"] == "safe"
    assert safe["resolved_by"] == KEY[:14], "the caller when the SDK sends none"
    assert safe["resolved_at"] is None and safe["resolution_type"] is None

    assert first["id"] in {a["id"] for a in client.get_alerts(status="resolved")["data"]}
    assert second["id"] in {a["id"] for a in client.get_alerts(status="dismissed")["data"]}, "SDK alias"
    with pytest.raises(NotFoundError):
        client.get_alert(str(uuid.uuid4()))
    with pytest.raises(ValidationError):
        client.resolve_alert(first["id"], "nuked")


def test_free_plan_alert_calls_raise_plan_restricted():
    client = sdk(FREE_KEY)
    some_id = str(uuid.uuid4())
    for call in (
        lambda: client.get_alerts(),
        lambda: client.get_alert(some_id),
        lambda: client.resolve_alert(some_id, "other"),
        lambda: client.mark_alert_safe(some_id),
    ):
        with pytest.raises(PlanRestrictedError) as err:
            call()
        assert err.value.status_code == 403
        assert err.value.error_code == "PLAN_RESTRICTED"
        assert err.value.required_plan == "pro"
    # Events stay open to Free, redacted.
    assert client.track("auth.login_success", actor_id=unique("free"), user_ip="203.0.113.5")
    page = client.get_events(limit=5)
    assert page["meta"]["plan"] == "free" and page["meta"]["redacted"] is True
    assert client.get_plan_info().plan == "free"


def test_bad_key_raises_the_auth_error():
    client = sdk("lsoc_live_" + "x" * 32)
    with pytest.raises(LiteSOCAuthError) as err:
        client.get_health()
    assert err.value.status_code == 401 and err.value.error_code == "UNAUTHORIZED"
    with pytest.raises(LiteSOCAuthError):
        client.get_events()
    with pytest.raises(LiteSOCAuthError):
        client.get_alerts()
    # Ingestion with a bad key fails; a silent client reports it as False.
    assert sdk("lsoc_live_" + "y" * 32, silent=True).track("auth.logout", actor_id="nobody") is False


def test_legacy_endpoint_and_trailing_slash_base_urls():
    for client in (
        LiteSOC(api_key=KEY, endpoint=URL + "/collect", batching=False, silent=False),
        LiteSOC(api_key=KEY, base_url=URL + "/", batching=False, silent=False),
        LiteSOC(api_key=KEY, base_url=URL + "/api/v1", batching=False, silent=False),
    ):
        actor = unique("legacy")
        assert client.track("auth.logout", actor_id=actor)
        assert len(events_of(client, actor, 1)) == 1


def test_quota_and_rate_limit_errors():
    client = sdk(LIMITED_KEY)
    # 3 events/month: a batch of 4 is refused whole with 403 QUOTA_EXCEEDED. litesoc 2.6.0 sends
    # events through _send_events, which calls raise_for_status() and re-raises the HTTPError as
    # a plain Exception (not its PlanRestrictedError, which only the read calls raise).
    with pytest.raises(Exception) as refused:
        client.track_batch([{"event_name": "a.b"}] * 4)
    assert type(refused.value) is Exception, type(refused.value)
    assert str(refused.value).startswith("Failed to send 4 event(s): 403 Client Error"), str(refused.value)
    http_error = refused.value.__cause__
    assert isinstance(http_error, requests.HTTPError)
    assert http_error.response.status_code == 403
    body = http_error.response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "QUOTA_EXCEEDED" and body["code"] == "QUOTA_EXCEEDED"
    assert body["error"]["message"] == "Monthly quota of 3 events exceeded: 4 requested, 3 remaining"
    assert client.get_plan_info().quota_used == 0, "nothing was reserved"
    assert sdk(LIMITED_KEY, silent=True).track_batch([{"event_name": "a.b"}] * 3) == 3
    # 5 requests/minute, counted per request in each budget (docs/api.md §3.2): the events' two
    # leave the reads' untouched (get_plan_info reads the headers the SDK kept); five reads pass,
    # the sixth is refused.
    for _ in range(5):
        client.get_health()
    with pytest.raises(RateLimitError) as limited:
        client.get_events()
    assert limited.value.status_code == 429
    assert isinstance(limited.value.retry_after, int) and limited.value.retry_after >= 1


def test_sdk_forensics_helper_when_the_location_is_unknown():
    # litesoc 2.6.0's Forensics.from_dict() dereferences both parts, so the server sends an
    # unknown part as its keys with null/false values rather than null (docs/api.md §7.1 allows both).
    client = sdk()
    actor = unique("forensics")
    client.track("auth.login_success", actor_id=actor, user_ip="203.0.113.9")
    [event] = events_of(client, actor, 1)
    location = event["forensics"]["location"]
    assert location is not None and location["city"] is None, "no IP database is loaded in this test server"
    forensics = litesoc.Forensics.from_dict(event["forensics"])
    assert forensics is not None
