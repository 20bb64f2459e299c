"""Logs never carry the secrets that URLs and keys hold."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from analytics_gateway.observability import JsonFormatter, PlainFormatter, redact

SECRETS = {
    "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX": "XXXXsecretXXXX",
    "redis://:hunter2@redis:6379/0": "hunter2",
    "influxdb://gateway:s3cr3t@influx:8086/analytics": "s3cr3t",
    "http://prom:9090/api/v1/query?query=up&token=abc123def": "abc123def",
    "/write?u=telegraf&p=pa55word&precision=ms": "pa55word",
    "Bearer agk_0123456789ab_SecretPartOfTheKeyXYZ": "SecretPartOfTheKeyXYZ",
}


@pytest.mark.parametrize(("text", "secret"), SECRETS.items())
def test_secrets_are_replaced(text: str, secret: str) -> None:
    cleaned = redact(f"delivery to {text} failed")
    assert secret not in cleaned
    assert "***" in cleaned


def test_text_without_secrets_is_unchanged() -> None:
    text = "GET /analytics/metrics/acme?name=cpu&last=1h 200 in 3.2 ms (http://gateway:8000/)"
    assert redact(text) == text


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ConnectionError("cannot reach redis://:hunter2@redis:6379/0")
        except ConnectionError:
            info = sys.exc_info()
    return logging.LogRecord("t", logging.WARNING, __file__, 1, message, args, info)


@pytest.mark.parametrize("formatter", [JsonFormatter(), PlainFormatter()])
def test_both_log_formats_redact_messages_arguments_and_tracebacks(
    formatter: logging.Formatter,
) -> None:
    line = formatter.format(
        _record("to %s", "https://hooks.slack.com/services/T/B/tok3n", exc=True)
    )
    assert "tok3n" not in line
    assert "hunter2" not in line
    if isinstance(formatter, JsonFormatter):
        assert json.loads(line)["msg"] == "to https://hooks.slack.com/services/***"
