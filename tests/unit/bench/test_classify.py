"""Failure classification: by the workload's hook, by class name, by code name."""

from __future__ import annotations

import pytest

from harness.bench import FAILURE_CLASSES, OperationFailed, classify_failure
from harness.errors import (
    HarnessError,
    ReadinessTimeoutError,
    TransactionRevertedError,
)


class EndorsementError(HarnessError):
    """Named like the Fabric client's; the classifier goes by the name."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class ChaincodeError(EndorsementError):
    pass


class TransactionInvalidError(HarnessError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TransactionRevertedError("caller is not a dealer"), "eth_revert"),
        (ReadinessTimeoutError("no receipt"), "timeout"),
        (TimeoutError(), "timeout"),
        (EndorsementError("peer0 refused"), "endorsement_failure"),
        (ChaincodeError("key = K already locked", status=409), "lock_conflict"),
        (TransactionInvalidError("tx invalid", code=11), "mvcc_read_conflict"),
        (HarnessError("committed with MVCC_READ_CONFLICT"), "mvcc_read_conflict"),
        (HarnessError("ENDORSEMENT_POLICY_FAILURE"), "endorsement_failure"),
        (OperationFailed("lock_conflict", "busy"), "lock_conflict"),
        (ValueError("bad"), "other"),
    ],
    ids=[
        "revert",
        "readiness-timeout",
        "timeout",
        "endorsement",
        "409-lock",
        "mvcc-code",
        "mvcc-text",
        "policy-text",
        "explicit",
        "other",
    ],
)
def test_default_classification(exc: BaseException, expected: str) -> None:
    assert expected in FAILURE_CLASSES
    assert classify_failure(exc) == expected


def test_the_workload_hook_comes_first_and_none_falls_through() -> None:
    def hook(exc: BaseException) -> str | None:
        return "lock_conflict" if isinstance(exc, KeyError) else None

    assert classify_failure(KeyError("k"), hook) == "lock_conflict"  # type: ignore[arg-type]
    assert classify_failure(TimeoutError(), hook) == "timeout"  # type: ignore[arg-type]


def test_a_broken_hook_does_not_stop_classification() -> None:
    def hook(exc: BaseException) -> None:
        raise RuntimeError("hook bug")

    assert classify_failure(TimeoutError(), hook) == "timeout"
