"""`Series` holds numpy columns as a store hands them over, lists once asked for."""

from __future__ import annotations

import pickle

import numpy as np

from analytics_gateway.domain import Series


def numpy_series() -> Series:
    return Series(
        "cpu",
        {"host": "a"},
        np.asarray([1, 2, 3], dtype=np.int64),
        np.asarray([0.5, 1.5, 2.5], dtype=np.float64),
    )


def test_numpy_columns_stay_numpy_until_lists_are_asked_for() -> None:
    series = numpy_series()
    timestamps, values = series.columns()
    assert isinstance(timestamps, np.ndarray)
    assert isinstance(values, np.ndarray)
    assert series.timestamps == [1, 2, 3]
    assert series.values == [0.5, 1.5, 2.5]
    assert all(type(t) is int for t in series.timestamps)  # Python numbers, not numpy's
    assert all(type(v) is float for v in series.values)
    series.values.append(3.5)  # the list handed out is the one held
    assert series.values == [0.5, 1.5, 2.5, 3.5]
    assert series.columns()[1] == [0.5, 1.5, 2.5, 3.5]


def test_equality_repr_and_pickling_do_not_depend_on_the_column_kind() -> None:
    lists = Series("cpu", {"host": "a"}, [1, 2, 3], [0.5, 1.5, 2.5])
    assert numpy_series() == lists
    assert numpy_series() != Series("cpu", {"host": "a"}, [1, 2, 3], [0.5, 1.5, 9.0])
    assert numpy_series() != Series("cpu", {"host": "b"}, [1, 2, 3], [0.5, 1.5, 2.5])
    assert repr(numpy_series()) == repr(lists)
    assert pickle.loads(pickle.dumps(numpy_series())) == lists
    empty = Series("cpu", {})
    assert empty.timestamps == []
    assert empty.values == []
