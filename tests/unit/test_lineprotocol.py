from __future__ import annotations

import random

import pytest

from analytics_gateway import lineprotocol
from analytics_gateway.errors import BadUserInput
from analytics_gateway.lineprotocol import parse_body


def test_fields_tags_escapes_and_timestamp() -> None:
    body = (
        r"cpu\ load,host=web\,1,region=eu\=west "
        "usage_user=1.5,usage_idle=98i,up=t 1700000000000000000"
    )
    parsed, rejected = parse_body(body, None)
    assert rejected == []
    key = r"cpu\ load,host=web\,1,region=eu\=west"
    assert parsed.names == ["cpu load_usage_user", "cpu load_usage_idle", "cpu load_up"]
    assert parsed.values == [1.5, 98.0, 1.0]
    assert parsed.timestamps == [1_700_000_000_000] * 3
    assert parsed.series == [key] * 3
    assert parsed.lines == [0, 0, 0]
    assert parsed.labels == {key: {"host": "web,1", "region": "eu=west"}}


def test_plain_lines_share_parsed_tags_and_convert_typed_values() -> None:
    body = "cpu,host=a usage=1i,busy=t,idle=2.5 1700000000000\ncpu,host=a usage=3u\n"
    parsed, rejected = parse_body(body, "ms")
    assert rejected == []
    assert parsed.names == ["cpu_usage", "cpu_busy", "cpu_idle", "cpu_usage"]
    assert parsed.values == [1.0, 1.0, 2.5, 3.0]
    assert parsed.timestamps == [1_700_000_000_000] * 3 + [None]
    assert parsed.lines == [0, 0, 0, 1]
    assert parsed.labels == {"cpu,host=a": {"host": "a"}}


def test_value_field_keeps_the_measurement_name_and_precision_applies() -> None:
    parsed, rejected = parse_body("temp value=21.5 1700000000\n", "s")
    assert rejected == []
    assert parsed.names == ["temp"]
    assert parsed.timestamps == [1_700_000_000_000]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("justname", "expected 'measurement[,tags] fields [timestamp]'"),
        ('m,host=a text="hello"', "string fields cannot be stored as metrics"),
        ("m value=abc", "invalid field value 'abc'"),
        ("m value=1 12x", "invalid timestamp '12x'"),
        ("m value=1 99999999999999999999999999999", "is out of range"),
        ("m,host value=1", "invalid tag 'host'"),
        ("m value", "invalid field 'value'"),
        ("m a=1=2", "invalid field 'a=1=2'"),
        ("m value=1 1 2", "too many space-separated sections"),
        ('m s="unterminated', "unterminated string field"),
    ],
)
def test_malformed_lines_are_rejected_with_a_reason(line: str, reason: str) -> None:
    parsed, rejected = parse_body(f"ok value=1\n{line}\n", None)
    assert parsed.names == ["ok"]
    assert [r.index for r in rejected] == [1]
    assert reason in rejected[0].message
    assert rejected[0].message.startswith("line 2: ")


def test_comments_and_blank_lines_are_skipped() -> None:
    parsed, rejected = parse_body("# header\n\nm value=1\n", "ms")
    assert parsed.lines == [2]
    assert rejected == []


def test_unknown_precision_is_a_user_error() -> None:
    with pytest.raises(BadUserInput, match="unknown precision 'weeks'"):
        parse_body("m value=1", "weeks")


def test_known_series_single_field_lines_take_the_same_rules() -> None:
    body = "\n".join(
        [
            "m,host=a value=1 1700000000000",
            "m,host=a value=2 1700000000001",
            "m,host=a busy=t 1700000000002",
            "m,host=a value=oops 1700000000003",
            "m,host=a value=4 -5",
            "m,host=a value=5 17000000000x",
        ]
    )
    parsed, rejected = parse_body(body, "ms")
    assert parsed.names == ["m", "m", "m_busy", "m"]
    assert parsed.values == [1.0, 2.0, 1.0, 4.0]
    assert parsed.timestamps == [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002, -5]
    assert [(r.index, r.message) for r in rejected] == [
        (3, "line 4: invalid field value 'oops'"),
        (5, "line 6: invalid timestamp '17000000000x'"),
    ]


def _line_by_line(body: str, precision: str | None) -> tuple[object, object]:
    """`parse_body` with the columnar path switched off."""
    saved = lineprotocol._COLUMNAR_MIN_BYTES
    lineprotocol._COLUMNAR_MIN_BYTES = 1 << 62
    try:
        return parse_body(body, precision)
    finally:
        lineprotocol._COLUMNAR_MIN_BYTES = saved


def _bulk(lines: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        f"cpu,host=h{rng.randrange(5)},region=r{rng.randrange(2)} "
        f"{rng.choice(['value', 'idle'])}={rng.uniform(-1e6, 1e6)!r} "
        f"{1_700_000_000_000_000_000 + rng.randrange(10**15)}"
        for _ in range(lines)
    ]


@pytest.mark.parametrize("precision", ["ns", "us", "ms", None])
def test_columnar_parse_of_bulk_bodies_equals_the_line_parser(precision: str | None) -> None:
    body = "\n".join(_bulk(500, 1)) + "\n"
    stamps_ok = body if precision in ("ns", None) else body.replace("1700000000", "17000", -1)
    assert lineprotocol._parse_columnar(stamps_ok, lineprotocol.precision_divisor(precision))
    assert parse_body(stamps_ok, precision) == _line_by_line(stamps_ok, precision)


@pytest.mark.parametrize(
    "odd_line",
    [
        "",  # blank line
        "# comment",
        "cpu,host=a value=5i 1700000000000000000",  # integer field
        "cpu,host=a value=t 1700000000000000000",  # boolean field
        "cpu,host=a value=1,idle=2 1700000000000000000",  # two fields
        "cpu,host=a value=1",  # no timestamp
        "cpu,host=a value= 1700000000000000000",  # empty value
        "cpu,host=a value=1 99999999999999999999",  # timestamp out of range
        "cpu,host=a value=1 -9223372036854775808",  # the lowest int64: out of range too
        "cpu,host=a  value=1 1700000000000000000",  # double space
        r"cpu,host=a\ b value=1 1700000000000000000",  # escape
        'cpu,host=a text="x" 1700000000000000000',  # string field
        "cpu,host value=1 1700000000000000000",  # tag without a value
        ",host=a value=1 1700000000000000000",  # no measurement
        "cpu,host=a =1 1700000000000000000",  # empty field name
        "cpu,host=a value=1_0 1700000000000000000",  # Python-only float syntax
    ],
)
def test_bulk_bodies_with_an_odd_line_parse_as_line_by_line(odd_line: str) -> None:
    lines = _bulk(300, 2)
    lines.insert(150, odd_line)
    body = "\n".join(lines)
    assert parse_body(body, "ns") == _line_by_line(body, "ns")
