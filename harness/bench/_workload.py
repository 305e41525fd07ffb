"""What the load generator drives: the workload protocol, failure classes, registry.

A workload sets itself up once, then runs one operation per call from many threads
at once. An operation returns how long each of its stages took, or raises; the
exception is put into one of the failure classes below, first by the workload's own
``classify`` hook, then by :func:`classify_failure`, which goes by exception class
names and Fabric's validation code names so it needs none of the modules that raise
them. Workloads are found by name in a registry: a new one is registered, never
wired into the runner.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args, runtime_checkable

from harness.errors import ConfigError, HarnessError

log = logging.getLogger(__name__)

FailureClass = Literal[
    "lock_conflict",
    "mvcc_read_conflict",
    "endorsement_failure",
    "eth_revert",
    "timeout",
    "other",
]
FAILURE_CLASSES: tuple[FailureClass, ...] = get_args(FailureClass)

# Per-stage durations of one operation, in seconds, e.g. {"lock": 0.012, "mint": ...}.
StageTimes = Mapping[str, float]
# Measures one component alone and returns its rate in operations per second.
LimitProbe = Callable[[], float]


class WorkloadError(HarnessError):
    """A workload could not be set up or named."""


class WorkloadUnavailableError(ConfigError):
    """A benchmark names a workload or limit whose system is not built yet."""


class OperationFailed(HarnessError):
    """An operation failed in a way its workload has already classified."""

    exit_code = 1

    def __init__(self, failure_class: FailureClass, message: str) -> None:
        super().__init__(message)
        self.failure_class = failure_class


@runtime_checkable
class Workload(Protocol):
    """One kind of operation to put under load."""

    name: str
    stages: tuple[str, ...]

    def setup(self) -> None:
        """Prepare everything operations need; not timed."""

    def operation(self, index: int) -> StageTimes:
        """Run operation number ``index``; the seconds each stage took, or raise."""
        ...

    def teardown(self) -> None:
        """Release what ``setup`` made; called once, also after a failed run."""

    def classify(self, exc: BaseException) -> FailureClass | None:
        """The failure class of ``exc``, or None for the default classification."""
        ...

    def limits(self) -> dict[str, LimitProbe]:
        """Probes that measure each component this workload depends on, alone."""
        ...

    def nodes(self) -> dict[str, int]:
        """Process ids of the nodes involved, by name (in-process nodes: ours)."""
        ...


class BaseWorkload:
    """Defaults for the optional parts of :class:`Workload`."""

    name = "base"
    stages: tuple[str, ...] = ()

    def setup(self) -> None:
        return None

    def operation(self, index: int) -> StageTimes:
        raise NotImplementedError

    def teardown(self) -> None:
        return None

    def classify(self, exc: BaseException) -> FailureClass | None:
        return None

    def limits(self) -> dict[str, LimitProbe]:
        return {}

    def nodes(self) -> dict[str, int]:
        return {"harness": os.getpid()}


# -- classification

# Exception class names (anywhere in the MRO) and the class they fall into. Names,
# not imports: the Fabric client and the Request Manager need not be importable.
_BY_CLASS_NAME: dict[str, FailureClass] = {
    "LockConflictError": "lock_conflict",
    "MvccConflictError": "mvcc_read_conflict",
    "TransactionRevertedError": "eth_revert",
    "EndorsementError": "endorsement_failure",
    "EndorsementMismatchError": "endorsement_failure",
    "CommitTimeoutError": "timeout",
    "ReadinessTimeoutError": "timeout",
    "TimeoutError": "timeout",
}
# Fabric validation code names found in a message, and their class.
_BY_CODE_NAME: dict[str, FailureClass] = {
    "MVCC_READ_CONFLICT": "mvcc_read_conflict",
    "PHANTOM_READ_CONFLICT": "mvcc_read_conflict",
    "ENDORSEMENT_POLICY_FAILURE": "endorsement_failure",
}
_MVCC_CODE = 11  # TxValidationCode.MVCC_READ_CONFLICT
_CONFLICT_STATUS = 409  # the datalock chaincode's "key = K already locked"


def classify_failure(
    exc: BaseException,
    hook: Callable[[BaseException], FailureClass | None] | None = None,
) -> FailureClass:
    """The failure class of an exception an operation raised."""
    if hook is not None:
        try:
            chosen = hook(exc)
        except Exception:  # a broken hook must not stop the run
            log.exception("failure classification hook raised; using the default")
            chosen = None
        if chosen is not None:
            return chosen
    explicit = getattr(exc, "failure_class", None)
    if explicit in FAILURE_CLASSES:
        return explicit  # type: ignore[no-any-return]
    return _classify_by_name(exc)


def _classify_by_name(exc: BaseException) -> FailureClass:
    names = [cls.__name__ for cls in type(exc).__mro__]
    text = str(exc)
    if "TransactionInvalidError" in names and getattr(exc, "code", None) == _MVCC_CODE:
        return "mvcc_read_conflict"
    for code, failure in _BY_CODE_NAME.items():
        if code in text:
            return failure
    if getattr(exc, "status", None) == _CONFLICT_STATUS or "already locked" in text:
        return "lock_conflict"
    for name in names:
        if name in _BY_CLASS_NAME:
            return _BY_CLASS_NAME[name]
    return "other"


# -- registry

WorkloadFactory = Callable[[Mapping[str, Any]], Workload]


@dataclass(frozen=True)
class WorkloadEntry:
    name: str
    description: str
    factory: WorkloadFactory | None
    # Why the workload cannot run yet (its system is still being built), or None.
    unavailable: str | None = None
    options: tuple[str, ...] = ()


_REGISTRY: dict[str, WorkloadEntry] = {}


def register_workload(
    name: str,
    factory: WorkloadFactory | None,
    *,
    description: str,
    options: tuple[str, ...] = (),
    unavailable: str | None = None,
) -> None:
    """Make a workload known by ``name`` (replacing an earlier one of that name)."""
    if factory is None and unavailable is None:
        raise WorkloadError(f"workload {name!r} needs a factory or a reason")
    _REGISTRY[name] = WorkloadEntry(name, description, factory, unavailable, options)


def workload_names() -> list[str]:
    return sorted(_REGISTRY)


def workload_entry(name: str) -> WorkloadEntry:
    """The registered workload ``name``; a clear error naming the known ones."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(workload_names())
        raise ConfigError(
            f"unknown workload {name!r}", hint=f"known workloads: {known}"
        ) from None


def create_workload(name: str, options: Mapping[str, Any] | None = None) -> Workload:
    entry = workload_entry(name)
    if entry.factory is None:
        raise WorkloadUnavailableError(
            f"workload {name!r} is not available yet: {entry.unavailable}",
            hint="runnable now: " + ", ".join(available_workloads()),
        )
    return entry.factory(dict(options or {}))


def available_workloads() -> list[str]:
    _load_builtins()
    return [n for n in workload_names() if _REGISTRY[n].factory is not None]


def _load_builtins() -> None:
    import harness.bench._workloads  # noqa: F401  (registers on import)


# -- component limits a benchmark file may name


@dataclass(frozen=True)
class LimitEntry:
    name: str
    probe: LimitProbe | None
    unavailable: str | None = None


_LIMITS: dict[str, LimitEntry] = {}


def register_limit(
    name: str, probe: LimitProbe | None, *, unavailable: str | None = None
) -> None:
    """Make a component limit probe known by ``name`` (rates in ops per second)."""
    if probe is None and unavailable is None:
        raise WorkloadError(f"limit {name!r} needs a probe or a reason")
    _LIMITS[name] = LimitEntry(name, probe, unavailable)


def limit_entry(name: str) -> LimitEntry:
    _load_builtins()
    try:
        return _LIMITS[name]
    except KeyError:
        known = ", ".join(sorted(_LIMITS))
        raise ConfigError(
            f"unknown limit {name!r}", hint=f"known limits: {known}"
        ) from None


def limit_probe(name: str) -> LimitProbe:
    entry = limit_entry(name)
    if entry.probe is None:
        raise WorkloadUnavailableError(
            f"limit {name!r} cannot be measured yet: {entry.unavailable}"
        )
    return entry.probe
