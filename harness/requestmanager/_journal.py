"""The orchestrator's own durable list of the requests it began.

The datalock chaincode can be asked about a request id but cannot list them, so the
orchestrator appends each request to this file (flushed to disk) before touching
either chain; ``recover()`` reads it back after a crash.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> dict[str, dict[str, Any]]:
        """The last entry per request id; a torn last line (a crash mid-write) is
        skipped."""
        found: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return found
        for line in self.path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            found[str(entry["request_id"])] = entry
        return found
