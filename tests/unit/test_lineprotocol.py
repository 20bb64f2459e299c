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


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # what InfluxDB's scanner refuses (models/points.go: scanNumber, scanTime, tags)
        ("m value=1_000", "invalid field value '1_000'"),
        ("m value=\uff11\uff12\uff13", "invalid field value"),  # full-width digits
        ("m value=+1", "invalid field value '+1'"),
        ("m value=nan5", "invalid field value 'nan5'"),
        ("m value=infinite", "invalid field value 'infinite'"),
        ("m value=1.2.3", "invalid field value '1.2.3'"),
        ("m value=1.5i", "invalid field value '1.5i'"),
        ("m value=-1u", "out of range for a 64-bit unsigned integer"),
        ("m value=" + "9" * 400 + "i", "out of range for a 64-bit integer"),
        ("m value=9223372036854775808i", "out of range for a 64-bit integer"),
        ("m value=18446744073709551616u", "out of range for a 64-bit unsigned integer"),
        ("m value=1 1_000", "invalid timestamp '1_000'"),
        ("m value=1 +5", "invalid timestamp '+5'"),
        ("m value=1 \uff15", "invalid timestamp"),
        ('m,t="a b" value=1', "unterminated string field"),  # the key ends at the space
        ("m,t=a,t=b value=1", "duplicate tag 't'"),
        (r"m,t=a\ b,t=c value=1", "duplicate tag 't'"),
    ],
)
def test_numbers_and_tags_follow_influxdb_rules(line: str, reason: str) -> None:
    parsed, rejected = parse_body(f"ok value=1\n{line}\nok value=2\n", "ms")
    assert parsed.values == [1.0, 2.0]  # the valid lines around it are kept
    assert [r.index for r in rejected] == [1]
    assert reason in rejected[0].message


@pytest.mark.parametrize(
    ("line", "value", "labels"),
    [
        ('m,t=a"b value=1', 1.0, {"t": 'a"b'}),  # a quote in a tag value is plain text
        ('m,t="x" value=2', 2.0, {"t": '"x"'}),
        ("m value=-.5", -0.5, {}),
        ("m value=1.", 1.0, {}),
        ("m value=1E3", 1000.0, {}),
        ("m value=2e-3", 0.002, {}),
        ("m value=9223372036854775807i", float(2**63 - 1), {}),
        ("m value=-9223372036854775808i", float(-(2**63)), {}),
        ("m value=18446744073709551615u", float(2**64 - 1), {}),
    ],
)
def test_what_influxdb_accepts_is_accepted(line: str, value: float, labels: dict[str, str]) -> None:
    parsed, rejected = parse_body(line, None)
    assert rejected == []
    assert parsed.values == [value]
    assert list(parsed.labels.values()) == [labels]


@pytest.mark.parametrize("precision", ["ms", "s", "ns"])
def test_a_timestamp_too_big_for_int64_is_refused_not_overflowed(precision: str) -> None:
    stamps = ["9223372036854775808", "9999999999999999999", "-9223372036854775809"]
    body = "\n".join(f"m value={i} {t}" for i, t in enumerate(stamps)) + "\nm value=9 1700000000"
    parsed, rejected = parse_body(body, precision)
    assert parsed.values == [9.0]
    assert [r.index for r in rejected] == [0, 1, 2]
    assert all("out of range" in r.message for r in rejected)


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


def _bulk(lines: int, seed: int, precision: str = "ns") -> list[str]:
    """Plain lines with timestamps of this year in `precision`."""
    rng = random.Random(seed)
    per_ns = lineprotocol.precision_divisor(precision)
    return [
        f"cpu,host=h{rng.randrange(5)},region=r{rng.randrange(2)} "
        f"{rng.choice(['value', 'idle'])}={rng.uniform(-1e6, 1e6)!r} "
        f"{(1_700_000_000_000_000_000 + rng.randrange(10**15)) // per_ns}"
        for _ in range(lines)
    ]


@pytest.mark.parametrize("precision", ["ns", "us", "ms", None])
def test_columnar_parse_of_bulk_bodies_equals_the_line_parser(precision: str | None) -> None:
    body = "\n".join(_bulk(500, 1, precision or "ns")) + "\n"
    assert lineprotocol._parse_columnar(body, lineprotocol.precision_divisor(precision))
    assert parse_body(body, precision) == _line_by_line(body, precision)


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
        "cpu,host=a value=+1 1700000000000000000",  # a sign InfluxDB refuses
        "cpu,host=a value=1e 1700000000000000000",
        "cpu,host=a value=1 +1700000000000000000",
        "cpu,host=a value=1 9223372036854775807",  # fits int64, not as milliseconds
    ],
)
@pytest.mark.parametrize("precision", ["ns", "ms"])
def test_bulk_bodies_with_an_odd_line_parse_as_line_by_line(odd_line: str, precision: str) -> None:
    lines = _bulk(300, 2, precision)
    lines.insert(150, odd_line)
    body = "\n".join(lines)
    assert parse_body(body, precision) == _line_by_line(body, precision)
