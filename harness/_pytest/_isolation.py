"""Per-test isolation: a snapshot of every shared network and chain a test touches,
put back after the test, with the time both cost."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Isolation:
    """One test's guards. Each resource is snapshotted once, on first use, and
    restored in reverse order at teardown; ``seconds`` is what that cost."""

    seconds: float = 0.0
    _guarded: list[tuple[Any, Any]] = field(default_factory=list)
    _ids: set[int] = field(default_factory=set)

    def guard(self, resource: Any) -> Any:
        """Snapshot ``resource`` (a network or a chain) unless already guarded."""
        if id(resource) not in self._ids:
            started = time.perf_counter()
            snapshot = resource.snapshot()
            self.seconds += time.perf_counter() - started
            self._ids.add(id(resource))
            self._guarded.append((resource, snapshot))
        return resource

    def restore(self) -> None:
        """Put every guarded resource back; every one is tried even if one fails."""
        started = time.perf_counter()
        failures: list[BaseException] = []
        for resource, snapshot in reversed(self._guarded):
            try:
                if hasattr(resource, "revert"):  # an Ethereum chain
                    resource.revert(snapshot)
                else:
                    resource.restore(snapshot)
            except Exception as exc:  # reraised below, after the others are restored
                log.error("harness isolation: restoring %r failed: %s", resource, exc)
                failures.append(exc)
        self._guarded.clear()
        self._ids.clear()
        self.seconds += time.perf_counter() - started
        if failures:
            raise failures[0]
