"""Line protocol for InfluxDB: escaping agrees with `influxdb-client`, encodings round-trip."""

from __future__ import annotations

import gzip

import pytest
from influxdb_client import Point, WritePrecision

from analytics_gateway.backends.influx_lines import (
    TENANT_TAG,
    LineEncoder,
    decode_tag_key,
    decode_tag_value,
    encode_tag_key,
    encode_tag_value,
)
from analytics_gateway.domain import MetricPoint, PointBatch

T0 = 1_700_000_000_000


def lines_of(encoder: LineEncoder, batch: PointBatch) -> list[list[str]]:
    bodies = encoder.encode(batch)
    if encoder.compress_level:
        bodies = [gzip.decompress(body) for body in bodies]
    return [body.decode().splitlines() for body in bodies]


def test_uncompressed_bodies_carry_the_same_lines_in_the_same_chunks() -> None:
    points = [MetricPoint("acme", "cpu", {"host": f"h{i % 3}"}, T0 + i, i / 4) for i in range(7)]
    batch = PointBatch.of("acme", points)
    zipped = LineEncoder(chunk_points=3)
    plain = LineEncoder(chunk_points=3, compress_level=0)
    expected = lines_of(zipped, batch)
    assert [len(chunk) for chunk in expected] == [3, 3, 1]
    assert lines_of(plain, batch) == expected


def test_the_same_batch_is_written_the_same_each_time_and_every_point_kept() -> None:
    """A redrive or a client's retry overwrites its first write in InfluxDB; points of
    one series and millisecond stay apart, identical ones included."""
    same_ms = [("a", 1.0), ("a", 2.0), ("a", 1.0), ("a", 1.0), ("b", 1.0), ("a", -0.0)]
    points = [MetricPoint("acme", "hits", {"h": h}, T0, v) for h, v in same_ms]
    points += [MetricPoint("acme", "hits", {"h": "a"}, T0 + i, 5.0) for i in range(1, 2000)]
    batch = PointBatch.of("acme", points)
    first = lines_of(LineEncoder(compress_level=0), batch)
    assert lines_of(LineEncoder(compress_level=0), PointBatch.of("acme", points)) == first
    lines = [line for chunk in first for line in chunk]
    stamps = [(line.split(" ")[0], int(line.rsplit(" ", 1)[1])) for line in lines]
    assert len(set(stamps)) == len(points)  # no two points of a series share a timestamp
    pairs = zip(stamps, points, strict=True)
    assert all(stamp // 1_000_000 == p.timestamp_ms for (_, stamp), p in pairs)
    # a point's tie-break depends on the point, not on what else the batch holds
    alone = lines_of(LineEncoder(compress_level=0), PointBatch.of("acme", points[1:2]))
    assert alone == [[lines[1]]]


@pytest.mark.parametrize(
    "labels",
    [{}, {"host": "web 1,a=b"}, {"q": 'say "hi"', "u": "ünï ☃", "eq": "a=b=c"}, {"k": "x,y z"}],
)
def test_series_and_value_are_written_as_influxdb_client_writes_them(
    labels: dict[str, str],
) -> None:
    batch = PointBatch.of("acme", [MetricPoint("acme", "api.latency:p", labels, T0, 12.25)])
    [[line]] = lines_of(LineEncoder(), batch)
    reference = Point("api.latency:p").tag(TENANT_TAG, "acme").field("value", 12.25)
    for key, value in labels.items():
        reference.tag(key, value)
    expected = reference.time(T0, WritePrecision.MS).to_line_protocol()
    series_and_field, stamp = line.rsplit(" ", 1)
    assert series_and_field == expected.rsplit(" ", 1)[0]
    assert int(stamp) // 1_000_000 == T0


@pytest.mark.parametrize(
    "value", ["", "back\\slash", "end\\", "line\nbreak", "tab\t", "%%x", "%%", "\ud800"]
)
def test_values_line_protocol_cannot_carry_are_encoded_one_to_one(value: str) -> None:
    stored = encode_tag_value(value)
    assert stored.startswith("%%")
    assert stored.isprintable()
    assert "\\" not in stored
    assert decode_tag_value(stored) == value


@pytest.mark.parametrize("value", ["plain", "web 1,a=b", "50%", "x%%", "a%41", "ünï"])
def test_ordinary_values_are_stored_as_they_are(value: str) -> None:
    assert encode_tag_value(value) == value == decode_tag_value(value)


def test_reserved_tag_keys_are_renamed_and_the_tenant_tag_is_hidden() -> None:
    assert encode_tag_key("time") == "@time"
    assert decode_tag_key("@time") == "time"
    assert encode_tag_key("host") == "host" == decode_tag_key("host")
    assert decode_tag_key(TENANT_TAG) is None


def test_batches_are_cut_into_chunks_and_equal_timestamps_stay_apart() -> None:
    points = [MetricPoint("t", "m", {"k": "v"}, T0, float(i)) for i in range(12)]
    chunks = lines_of(LineEncoder(chunk_points=5), PointBatch.of("t", points))
    assert [len(c) for c in chunks] == [5, 5, 2]
    stamps = [int(line.rsplit(" ", 1)[1]) for chunk in chunks for line in chunk]
    assert len(set(stamps)) == 12
    assert {s // 1_000_000 for s in stamps} == {T0}
    values = [float(line.split("value=")[1].split(" ")[0]) for c in chunks for line in c]
    assert values == [float(i) for i in range(12)]
