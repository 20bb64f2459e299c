from __future__ import annotations

import pytest

from analytics_gateway.errors import BadUserInput
from analytics_gateway.ingest import RawPoint
from analytics_gateway.lineprotocol import parse_body, parse_line


def test_fields_tags_escapes_and_timestamp() -> None:
    line = (
        r"cpu\ load,host=web\,1,region=eu\=west "
        "usage_user=1.5,usage_idle=98i,up=t 1700000000000000000"
    )
    parsed = parse_line(line, 3, 1)
    labels = {"host": "web,1", "region": "eu=west"}
    assert parsed.index == 3
    assert parsed.points == [
        RawPoint("cpu load_usage_user", 1.5, labels, 1_700_000_000_000),
        RawPoint("cpu load_usage_idle", 98.0, labels, 1_700_000_000_000),
        RawPoint("cpu load_up", 1.0, labels, 1_700_000_000_000),
    ]


def test_value_field_keeps_the_measurement_name_and_precision_applies() -> None:
    parsed, rejected = parse_body("temp value=21.5 1700000000\n", "s")
    assert rejected == []
    assert parsed[0].points == [RawPoint("temp", 21.5, {}, 1_700_000_000_000)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("justname", "expected 'measurement[,tags] fields [timestamp]'"),
        ('m,host=a text="hello"', "string fields cannot be stored as metrics"),
        ("m value=abc", "invalid field value 'abc'"),
        ("m value=1 12x", "invalid timestamp '12x'"),
        ("m,host value=1", "invalid tag 'host'"),
        ("m value=1 1 2", "too many space-separated sections"),
        ('m s="unterminated', "unterminated string field"),
    ],
)
def test_malformed_lines_are_rejected_with_a_reason(line: str, reason: str) -> None:
    parsed, rejected = parse_body(f"ok value=1\n{line}\n", None)
    assert len(parsed) == 1
    assert [r.index for r in rejected] == [1]
    assert reason in rejected[0].message
    assert rejected[0].message.startswith("line 2: ")


def test_comments_and_blank_lines_are_skipped() -> None:
    parsed, rejected = parse_body("# header\n\nm value=1\n", "ms")
    assert [p.index for p in parsed] == [2]
    assert rejected == []


def test_unknown_precision_is_a_user_error() -> None:
    with pytest.raises(BadUserInput, match="unknown precision 'weeks'"):
        parse_body("m value=1", "weeks")
