"""Big point columns are encoded ahead in slices, and the response is the same JSON."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import orjson

from analytics_gateway import bulk_json
from analytics_gateway.bulk_json import SLICE_POINTS, SeriesColumns, outgoing


def columns(points: int, start: int = 0) -> dict[str, list[float]]:
    return {"t": list(range(start, start + points)), "v": [i / 3 for i in range(points)]}


def response(series: list[SeriesColumns]) -> dict[str, object]:
    return {
        "data": {"metrics": [{"labels": {"i": str(i)}, "data": s} for i, s in enumerate(series)]}
    }


async def test_big_answers_are_encoded_in_slices_with_the_loop_running_between() -> None:
    turns = 0
    stop = asyncio.Event()

    async def count_turns() -> None:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            await asyncio.sleep(0)

    plain = [columns(2_000, start=i * 10_000) for i in range(20)]  # 4 slices' worth
    counter = asyncio.create_task(count_turns())
    await asyncio.sleep(0)
    with bulk_json.noting():
        series = [outgoing(c) for c in plain]
        before = turns
        await bulk_json.encode_noted()
        during = turns - before
        body = bulk_json.dumps(response(series))
    stop.set()
    await counter
    assert all(s.encoded is not None for s in series)
    assert during >= 20 * 2_000 // SLICE_POINTS - 1
    assert body == orjson.dumps(response([SeriesColumns(c) for c in plain]))
    assert orjson.loads(body)["data"]["metrics"][3]["data"] == plain[3]


async def test_a_small_answer_is_left_to_the_response_encode() -> None:
    with bulk_json.noting():
        small = outgoing(columns(10))
        await bulk_json.encode_noted()
        assert small.encoded is None
        assert orjson.loads(bulk_json.dumps(response([small])))["data"]["metrics"][0]["data"] == (
            columns(10)
        )


def test_values_outside_a_request_are_plain_mappings() -> None:
    value = outgoing(columns(3))
    assert value == columns(3)
    assert value.encoded is None
    assert orjson.loads(bulk_json.dumps({"x": value, "s": StrLike("a")})) == {
        "x": columns(3),
        "s": "a",
    }


class StrLike(str):
    """A str subclass, as an enum value can be: written as its text."""


def numpy_columns(points: int, start: int = 0) -> dict[str, object]:
    plain = columns(points, start)
    return {
        "t": np.asarray(plain["t"], dtype=np.int64),
        "v": np.asarray(plain["v"], dtype=np.float64),
    }


async def test_numpy_columns_give_the_same_json_as_lists_big_or_small() -> None:
    """A store's raw read travels as numpy columns (no lists for the collector to walk);
    clients must not see the difference, in the sliced path or the final encode."""
    for points, count in ((2_000, 20), (10, 2)):
        plain = [columns(points, start=i * 10_000) for i in range(count)]
        with bulk_json.noting():
            series = [outgoing(numpy_columns(points, start=i * 10_000)) for i in range(count)]
            await bulk_json.encode_noted()
            body = bulk_json.dumps(response(series))
        assert body == orjson.dumps(response([SeriesColumns(c) for c in plain])), points


def test_numpy_columns_outside_a_request_become_lists() -> None:
    """A subscription's message is encoded elsewhere, with encoders that know lists only."""
    value = outgoing(numpy_columns(3))
    assert isinstance(value["t"], list)
    assert isinstance(value["v"], list)
    assert json.dumps(value) == json.dumps(columns(3))
