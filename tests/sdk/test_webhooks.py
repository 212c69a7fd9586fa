"""Alert webhooks verified by an independent Standard Webhooks implementation (PyPI's
`standardwebhooks`): a destination added through the API, an instant-alert event sent, and the
signed POST received on 127.0.0.1 must verify under the secret the API showed once.

Run through tests/sdk/run.sh (SERVE_URL, SERVE_KEY); the Worker is served with
DELIVERY_ALLOW_HTTP_LOOPBACK, as `scripts/dev` serves it.
"""

import json
import os
import queue
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

URL = os.environ.get("SERVE_URL", "")
KEY = os.environ.get("SERVE_KEY", "")

pytestmark = pytest.mark.skipif(not URL.startswith("http://127.0.0.1:"), reason="run through tests/sdk/run.sh")


def api(method, path, body=None):
    req = urllib.request.Request(
        URL + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read())


@pytest.fixture
def receiver():
    """A receiver on 127.0.0.1 that answers 200 and hands every request to the test."""
    got = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.put((dict(self.headers), body.decode()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()


def test_a_delivered_alert_verifies_with_the_standard_webhooks_library(receiver):
    url, got = receiver
    made = api("POST", "/destinations", {"name": "pytest", "kind": "webhook", "url": url + "/hook"})
    secret = made["data"]["secret"]
    assert secret.startswith("whsec_")
    try:
        sent = api("POST", "/collect", {"event": "admin.privilege_escalation", "actor": "py-mallory", "user_ip": "203.0.113.70"})
        started = time.monotonic()
        headers, body = got.get(timeout=10)
        assert time.monotonic() - started < 5
        lower = {k.lower(): v for k, v in headers.items()}
        payload = Webhook(secret).verify(body, lower)
        assert payload["type"] == "alert.raised"
        assert payload["data"]["events"][0]["id"] == sent["event_ids"][0]
        # The same body under another secret, or tampered, does not verify.
        other = api("POST", f"/destinations/{made['data']['id']}/rotate-secret")["data"]["secret"]
        with pytest.raises(WebhookVerificationError):
            Webhook(other).verify(body, lower)
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body.replace("py-mallory", "someone-else"), lower)
    finally:
        api("DELETE", f"/destinations/{made['data']['id']}")
