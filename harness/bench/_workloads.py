"""The built-in workloads, registered by name on import.

- ``calibration-sleep``: no system at all, each operation sleeps; for testing the
  load generator itself (rate accuracy, stalls, injected failures).
- ``token-issues``: plain issue() transactions on an in-process eth-tester chain
  through the harness's token client.
- ``fabric-records`` and ``audit-requests``: the whole system (see
  ``_system_workloads``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from harness.bench._system_workloads import (
    _audit_requests,
    _fabric_records,
    fabric_commit_rate,
)
from harness.bench._workload import (
    FAILURE_CLASSES,
    BaseWorkload,
    LimitProbe,
    StageTimes,
    Workload,
    register_limit,
    register_workload,
)
from harness.errors import ConfigError, TransactionRevertedError

log = logging.getLogger(__name__)


def _number(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"workload option {key} must be a number >= 0, got {value!r}")
    return float(value)


class _Window:
    """A stretch of time after the first operation: ``[from_s, from_s + for_s)``."""

    def __init__(self, from_s: float | None, for_s: float) -> None:
        self.from_s = from_s
        self.for_s = for_s
        self._origin: float | None = None
        self._lock = threading.Lock()

    def contains_now(self) -> bool:
        if self.from_s is None:
            return False
        now = time.perf_counter()
        with self._lock:
            if self._origin is None:
                self._origin = now
        offset = now - self._origin
        return self.from_s <= offset < self.from_s + self.for_s


# -- calibration

# What an injected failure looks like, so the default classifier sorts it as it
# would the real system's error (by message text or exception type).
_INJECTED_MESSAGES: dict[str, str] = {
    "lock_conflict": "injected: key = record-1 already locked",
    "mvcc_read_conflict": "injected: transaction invalidated (MVCC_READ_CONFLICT)",
    "endorsement_failure": "injected: ENDORSEMENT_POLICY_FAILURE",
    "other": "injected: something else went wrong",
}


class CalibrationWorkload(BaseWorkload):
    """Each operation sleeps ``sleep_ms``; optionally one stall and a failure window.

    Options: ``sleep_ms`` (default 1), ``stall_at_s`` / ``stall_s`` (the first
    operation started at or after ``stall_at_s`` seconds into the run takes
    ``stall_s`` longer, holding the one 'server' every operation goes through),
    ``fail_from_s`` / ``fail_for_s`` / ``fail_class`` (operations started in that
    window fail the way the named class's real errors do).
    """

    name = "calibration-sleep"
    stages: tuple[str, ...] = ("service",)

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.sleep_s = _number(options, "sleep_ms", 1.0) / 1000
        stall_at = options.get("stall_at_s")
        self._stall = _Window(
            None if stall_at is None else _number(options, "stall_at_s", 0),
            float("inf"),
        )
        self.stall_s = _number(options, "stall_s", 0.0)
        self._stalled = False
        fail_from = options.get("fail_from_s")
        self._failing = _Window(
            None if fail_from is None else _number(options, "fail_from_s", 0),
            _number(options, "fail_for_s", 1.0),
        )
        self.fail_class = str(options.get("fail_class", "other"))
        if self.fail_class not in FAILURE_CLASSES:
            raise ConfigError(
                f"fail_class must be one of {', '.join(FAILURE_CLASSES)}, "
                f"got {self.fail_class!r}"
            )
        # Serialises operations only around a stall: the 'system' stops answering.
        self._server = threading.Lock()

    def operation(self, index: int) -> StageTimes:
        started = time.perf_counter()
        if self._stall.contains_now() and not self._stalled:
            with self._server:
                if not self._stalled:
                    self._stalled = True
                    log.info(
                        "calibration: stalling %.2f s at op %s", self.stall_s, index
                    )
                    time.sleep(self.stall_s)
        if self._failing.contains_now():
            raise _injected(self.fail_class)
        with self._server if self.stall_s else contextlib.nullcontext():
            time.sleep(self.sleep_s)
        return {"service": time.perf_counter() - started}


def _injected(failure: str) -> Exception:
    if failure == "eth_revert":
        return TransactionRevertedError("injected revert", function="issue")
    if failure == "timeout":
        return TimeoutError("injected: no answer before the deadline")
    return RuntimeError(_INJECTED_MESSAGES[failure])


# -- token issues on eth-tester

_TOKEN_METADATA = json.dumps(
    {"org": "harness-bench", "type": "Utility Emissions", "utilityIds": ["USA_EIA_1"]},
    sort_keys=True,
)


class TokenIssuesWorkload(BaseWorkload):
    """Plain issue() of audited-emissions tokens on an in-process eth-tester chain.

    Stages: ``sign`` (build and sign the transaction) and ``mint`` (send it, wait
    for the receipt, decode TokenCreated). eth-tester runs one transaction at a
    time and nonces must arrive in order, so operations take turns; the wait for
    a turn is part of the latency, not of a stage. Options: ``quantity``,
    ``revert_from_s`` / ``revert_for_s`` (issue from an account that is no dealer
    in that window: the contract reverts), ``limit_count`` (issues in the limit
    probe, default 200).
    """

    name = "token-issues"
    stages: tuple[str, ...] = ("sign", "mint")

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.quantity = int(_number(options, "quantity", 1000))
        revert_from = options.get("revert_from_s")
        self._reverting = _Window(
            None if revert_from is None else _number(options, "revert_from_s", 0),
            _number(options, "revert_for_s", 1.0),
        )
        self.limit_count = max(1, int(_number(options, "limit_count", 200)))
        self._turn = threading.Lock()
        self._token: Any = None

    def setup(self) -> None:
        self._token = _deployed_token()

    def operation(self, index: int) -> StageTimes:
        issuer = "consumer_2" if self._reverting.contains_now() else "emissions_auditor"
        with self._turn:
            started = time.perf_counter()
            signed = _build_issue(self._token, issuer, index, self.quantity)
            signed_at = time.perf_counter()
            # A revert still spends the nonce, so the next issue signs cleanly.
            self._token.send_issue(signed)
            return {
                "sign": signed_at - started,
                "mint": time.perf_counter() - signed_at,
            }

    def teardown(self) -> None:
        self._token = None

    def limits(self) -> dict[str, LimitProbe]:
        count = self.limit_count
        return {"eth_tester_issue": lambda: eth_tester_issue_rate(count)}

    def nodes(self) -> dict[str, int]:
        return {"harness+eth-tester": os.getpid()}


def _deployed_token() -> Any:
    from harness.ethereum import Chain, TokenClient

    token = TokenClient.deploy(Chain.eth_tester())
    token.register_default_roles()
    return token


def _build_issue(token: Any, issuer: str, index: int, quantity: int) -> Any:
    from harness.ethereum import AUDITED_EMISSIONS_DESCRIPTION, TokenType

    return token.build_issue(
        issuer,
        "consumer_1",
        token_type=TokenType.AUDITED_EMISSIONS,
        quantity=quantity,
        from_date=1_588_846_209,
        thru_date=1_591_524_609,
        metadata=_TOKEN_METADATA,
        manifest=f"uuids: bench-{index:07d}",
        description=AUDITED_EMISSIONS_DESCRIPTION,
    )


def eth_tester_issue_rate(count: int = 200) -> float:
    """issue() per second of a fresh eth-tester chain alone, transactions pre-signed.

    Signing is not timed: this is the chain's rate (execute, mine, receipt, event),
    the ceiling of any workload that issues tokens on it.
    """
    token = _deployed_token()
    signed = [_build_issue(token, "emissions_auditor", i, 1000) for i in range(count)]
    started = time.perf_counter()
    for transaction in signed:
        token.send_issue(transaction)
    return count / (time.perf_counter() - started)


def hsm_signing_rate(seconds: float = 1.0) -> float:
    """Signatures per second of the harness's HSM signer (one thread, a new token)."""
    import tempfile
    from pathlib import Path

    from harness.bench._signing import measure_signing

    with tempfile.TemporaryDirectory(prefix="harness-bench-hsm-") as home:
        result = measure_signing(
            Path(home), thread_counts=(1,), seconds=seconds, rounds=1
        )
    return result.run_for(1).ops_per_s


# -- registration


def _calibration(options: Mapping[str, Any]) -> Workload:
    return CalibrationWorkload(options)


def _token_issues(options: Mapping[str, Any]) -> Workload:
    return TokenIssuesWorkload(options)


register_workload(
    "calibration-sleep",
    _calibration,
    description="no system: each operation sleeps (tests the load generator)",
    options=(
        "sleep_ms",
        "stall_at_s",
        "stall_s",
        "fail_from_s",
        "fail_for_s",
        "fail_class",
    ),
)
register_workload(
    "token-issues",
    _token_issues,
    description="plain issue() of audited-emissions tokens on eth-tester",
    options=("quantity", "revert_from_s", "revert_for_s", "limit_count"),
)
register_workload(
    "fabric-records",
    _fabric_records,
    description="plain Fabric record transactions (utilityemissions recordEmissions)",
    options=("records_per_request", "network", "served", "served_chain"),
)
register_workload(
    "audit-requests",
    _audit_requests,
    description="audit requests through the Request Manager (lock, mint, record, unlock)",
    options=(
        "records_per_request",
        "key_space",
        "network",
        "auditors",
        "served",
        "served_chain",
    ),
)
register_limit("eth_tester_issue", eth_tester_issue_rate)
register_limit("hsm_signing", hsm_signing_rate)
register_limit("fabric_commit", fabric_commit_rate)
