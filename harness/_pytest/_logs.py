"""Node logs for a failing test's report: the last lines inline, the files named."""

from __future__ import annotations

from collections import deque
from pathlib import Path

from harness.runs import RunDir

TAIL_LINES = 20


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a text file (read as a stream, not whole)."""
    try:
        with open(path, errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]
    except OSError as exc:
        return [f"(cannot read {path}: {exc.strerror})"]


def log_section(runs: list[RunDir], lines: int = TAIL_LINES) -> str:
    """Every node log of ``runs``: its path, then its last lines."""
    parts = []
    for run in runs:
        parts.append(f"run folder {run.path}")
        for path in sorted((run.path / "logs").glob("*.log")):
            parts.append(f"--- {path.stem} ({path}), last {lines} lines:")
            parts.extend(f"    {line}" for line in tail(path, lines))
    return "\n".join(parts)
