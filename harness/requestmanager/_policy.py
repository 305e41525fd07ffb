"""Policies that run before the Request Manager locks anything.

A policy looks at the records of a request and either lets the audit go on or gives
the reason it refuses; nothing on either chain changes for a refused request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.errors import ConfigError

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


class AuditPolicy(Protocol):
    """``refusal(records)``: None to allow the audit, else the reason to refuse it."""

    @property
    def name(self) -> str: ...

    def refusal(self, records: Sequence[Mapping[str, Any]]) -> str | None: ...


@dataclass(frozen=True)
class EmissionsDatePolicy:
    """Refuse records whose emissions period ends after ``cutoff`` (``MM-DD``) in its
    year: the SIG's question of telling legacy emissions from newly burned carbon.

    Off unless configured; ``EmissionsDatePolicy("06-30")`` audits only records that
    end on or before June 30 of their year.
    """

    cutoff: str
    name: str = "emissions-date"

    def __post_init__(self) -> None:
        match = _MONTH_DAY.match(self.cutoff)
        if not match or not (1 <= int(match[1]) <= 12 and 1 <= int(match[2]) <= 31):
            raise ConfigError(
                f"emissions-date cutoff {self.cutoff!r} is not MM-DD",
                hint="e.g. '06-30' for June 30",
            )

    def refusal(self, records: Sequence[Mapping[str, Any]]) -> str | None:
        late = [
            str(r["uuid"]) for r in records if str(r["thruDate"])[5:10] > self.cutoff
        ]
        if not late:
            return None
        return (
            f"policy {self.name}: {len(late)} record(s) end after {self.cutoff} of "
            f"their year: {', '.join(late)}"
        )
