"""A bounded pool of PKCS#11 sessions, cheap on the signing path.

Idle sessions sit in a deque (append and pop are atomic under the GIL), so borrowing
and returning cost no lock while sessions are free; a condition is used only when a
caller has to wait for one. Sessions are opened lazily up to ``size``.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HsmError


@dataclass
class Pooled:
    """A session and what was looked up in it (object handles are per application,
    but python-pkcs11 objects are bound to the session that found them)."""

    session: Any
    keys: dict[bytes, tuple[int, int]] = field(
        default_factory=dict
    )  # ski -> handle, size


class SessionPool:
    def __init__(self, size: int, open_session: Callable[[], Any], name: str) -> None:
        self._size = size
        self._open_session = open_session
        self._name = name
        self._idle: collections.deque[Pooled] = collections.deque()
        self._all: list[Pooled] = []
        self._cond = threading.Condition(threading.Lock())
        self._opened = 0
        self._waiting = 0

    def borrow(self, timeout: float = 30.0) -> Pooled:
        try:
            return self._idle.pop()
        except IndexError:
            pass
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    try:
                        return self._idle.pop()
                    except IndexError:
                        pass
                    if self._opened < self._size:
                        self._opened += 1
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._cond.wait(remaining):
                        raise HsmError(
                            f"no session of token '{self._name}' came free within "
                            f"{timeout:.0f} s",
                            hint=f"raise pool_size above {self._size} or hold sessions "
                            "for less time",
                        )
            finally:
                self._waiting -= 1
        try:
            pooled = Pooled(self._open_session())
        except BaseException:
            with self._cond:
                self._opened -= 1
            raise
        self._all.append(pooled)
        return pooled

    def give_back(self, pooled: Pooled) -> None:
        self._idle.append(pooled)
        if self._waiting:
            with self._cond:
                self._cond.notify()

    def drain(self) -> list[Pooled]:
        """Every session ever opened (for closing); the pool is empty afterwards."""
        with self._cond:
            sessions, self._all = self._all, []
            self._idle.clear()
            self._opened = 0
            return sessions
