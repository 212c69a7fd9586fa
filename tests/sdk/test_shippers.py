"""Python's Loki log handlers from PyPI, unmodified except URL and credentials, against the
served Worker (docs/dashboard.md §7.2): python-logging-loki in its default (v0, the older
`labels`/`entries` JSON) and v1 forms, loki-logger-handler (gzip JSON, JSON lines), and
OpenTelemetry's Python SDK with its OTLP/HTTP protobuf log exporter. Each line must come back on
the dashboard once, classified, with its service, user and address.

Run through tests/sdk/run.sh (SERVE_URL, SERVE_KEY).
"""

import json
import logging
import os
import time
import urllib.request
import uuid

import logging_loki
import pytest
from loki_logger_handler.loki_logger_handler import LokiLoggerHandler

URL = os.environ.get("SERVE_URL", "")
KEY = os.environ.get("SERVE_KEY", "")

pytestmark = pytest.mark.skipif(not URL.startswith("http://127.0.0.1:"), reason="run through tests/sdk/run.sh")

PUSH = URL + "/loki/api/v1/push"


def lines_of(service, want, timeout=15.0):
    """The dashboard's log items of `service`, once `want` of them are there."""
    deadline = time.monotonic() + timeout
    while True:
        req = urllib.request.Request(
            f"{URL}/ui/mock-data?hours=1&service={service}", headers={"X-API-Key": KEY}
        )
        with urllib.request.urlopen(req, timeout=10) as res:
            logs = json.loads(res.read())["logs"]
        if len(logs) >= want or time.monotonic() > deadline:
            return logs
        time.sleep(0.2)


def logger_with(handler, name):
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


@pytest.mark.parametrize("version", ["0", "1"])
def test_python_logging_loki(version):
    service = f"pyloki-{version}-{uuid.uuid4().hex[:8]}"
    handler = logging_loki.LokiHandler(
        url=PUSH, tags={"application": service}, auth=("edgesoc", KEY), version=version
    )
    logger = logger_with(handler, service)
    logger.error("Failed password for invalid user admin from 198.51.100.61 port 40022 ssh2")
    logger.info("user login ok for carol from 203.0.113.62")
    logs = lines_of(service, 2)
    assert len(logs) == 2, logs
    by_ip = {item["sourceIp"]: item for item in logs}
    assert by_ip["198.51.100.61"]["type"] == "login_failure"
    assert by_ip["198.51.100.61"]["_metadata"]["service"] == service
    assert by_ip["203.0.113.62"]["type"] == "login_success"


def test_loki_logger_handler():
    service = f"lokihandler-{uuid.uuid4().hex[:8]}"
    handler = LokiLoggerHandler(
        url=PUSH, labels={"application": service}, auth=("edgesoc", KEY), timeout=1,
        enable_self_errors=True,
    )
    logger = logger_with(handler, service)
    logger.warning("login failed: wrong password", extra={"user": "mallory", "ip": "192.0.2.63"})
    logs = lines_of(service, 1)
    assert len(logs) == 1, logs
    assert logs[0]["type"] == "login_failure"
    assert logs[0]["_metadata"]["service"] == service


def test_opentelemetry_python_otlp_protobuf():
    """opentelemetry-sdk's logging handler with the OTLP/HTTP protobuf exporter, pointed at
    /v1/logs with the key as a bearer token (docs/dashboard.md §7.6)."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    service = f"otel-py-{uuid.uuid4().hex[:8]}"
    provider = LoggerProvider(resource=Resource.create({"service.name": service, "host.name": "py-1"}))
    exporter = OTLPLogExporter(endpoint=URL + "/v1/logs", headers={"Authorization": f"Bearer {KEY}"})
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logger_with(LoggingHandler(level=logging.INFO, logger_provider=provider), service)
    logger.warning(
        "Failed password for root from 198.51.100.64 port 50123 ssh2",
        extra={"client.address": "198.51.100.64"},
    )
    logger.info("Accepted publickey for deploy from 203.0.113.65 port 51514 ssh2")
    provider.force_flush()
    logs = lines_of(service, 2)
    provider.shutdown()
    assert len(logs) == 2, logs
    by_ip = {item["sourceIp"]: item for item in logs}
    assert by_ip["198.51.100.64"]["type"] == "login_failure"
    assert by_ip["198.51.100.64"]["user"] == "root"
    assert by_ip["198.51.100.64"]["hostname"] == "py-1"
    assert by_ip["203.0.113.65"]["type"] == "login_success", "an accepted login is never a scan"
