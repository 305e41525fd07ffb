"""The block cutter follows Fabric's rules exactly."""

from __future__ import annotations

import pytest

from harness.fabric.sim._cutter import BlockCutter, MessageTooLargeError
from harness.spec import BatchSettings

SETTINGS = BatchSettings(
    timeout_s=2.0, max_message_count=3, absolute_max_bytes=100, preferred_max_bytes=10
)


def msg(size: int, tag: str = "m") -> bytes:
    return (tag * size)[:size].encode()


def test_max_message_count_cuts() -> None:
    cutter = BlockCutter(SETTINGS)

    assert cutter.ordered(msg(1, "a"), 0) == []
    assert cutter.ordered(msg(1, "b"), 0) == []
    assert cutter.ordered(msg(1, "c"), 0) == [[b"a", b"b", b"c"]]
    assert cutter.pending == []


def test_message_over_preferred_cuts_pending_and_goes_alone() -> None:
    cutter = BlockCutter(SETTINGS)
    cutter.ordered(msg(2, "a"), 0)

    batches = cutter.ordered(msg(11, "b"), 0)

    assert batches == [[b"aa"], [b"b" * 11]]
    assert cutter.pending == []
    assert cutter.deadline is None


def test_big_message_on_empty_batch_goes_alone() -> None:
    assert BlockCutter(SETTINGS).ordered(msg(50), 0) == [[b"m" * 50]]


def test_message_overflowing_preferred_cuts_first() -> None:
    cutter = BlockCutter(SETTINGS)
    cutter.ordered(msg(6, "a"), 0)

    batches = cutter.ordered(msg(6, "b"), 0)

    assert batches == [[b"a" * 6]]
    assert cutter.pending == [b"b" * 6]


def test_exactly_preferred_does_not_cut() -> None:
    cutter = BlockCutter(SETTINGS)
    cutter.ordered(msg(5, "a"), 0)

    assert cutter.ordered(msg(5, "b"), 0) == []


def test_over_absolute_max_bytes_is_rejected() -> None:
    cutter = BlockCutter(SETTINGS)

    with pytest.raises(MessageTooLargeError, match="AbsoluteMaxBytes 100"):
        cutter.ordered(msg(101), 0)
    assert cutter.pending == []


def test_timer_starts_with_first_message_of_empty_batch() -> None:
    cutter = BlockCutter(SETTINGS)
    cutter.ordered(msg(1, "a"), 10.0)
    cutter.ordered(msg(1, "b"), 11.5)

    assert cutter.due(11.9) is None
    assert cutter.due(12.0) == [b"a", b"b"]
    assert cutter.deadline is None
    assert cutter.due(20.0) is None


def test_timer_restarts_after_a_cut() -> None:
    cutter = BlockCutter(SETTINGS)
    for tag in "abc":
        cutter.ordered(msg(1, tag), 0.0)
    cutter.ordered(msg(1, "d"), 5.0)

    assert cutter.deadline == 7.0
