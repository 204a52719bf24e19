"""The refit-against-shipped comparison the reproducibility tests use: numbers within a tolerance, the rest exact."""

from __future__ import annotations

from tests.support import differences


def test_numbers_may_move_within_the_tolerance_and_nothing_else_may() -> None:
    shipped = {"threshold": 0.889, "rule": "lowest", "figures": [{"precision": 0.75, "pairs": 336}], "ok": True}
    assert differences({**shipped, "threshold": 0.8906}, shipped, 0.005) == []
    assert differences({**shipped, "threshold": 0.9}, shipped, 0.005) == [".threshold: 0.9 != 0.889 (± 0.005)"]
    assert differences({**shipped, "rule": "highest"}, shipped, 0.5) == [".rule: 'highest' != 'lowest'"]
    assert differences({**shipped, "ok": False}, shipped, 1.0) == [".ok: False != True"]  # a flag is not a number
    assert differences({"threshold": 0.889}, shipped, 1.0)  # a missing key
    moved = {**shipped, "figures": [{"precision": 0.81, "pairs": 336}]}
    assert differences(moved, shipped, 0.1) == [] and differences(moved, shipped, 0.05)
