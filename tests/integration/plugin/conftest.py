"""The plugin is tested black-box: an inner pytest in its own process, loading the
plugin by its entry point, with its run folders under the pytester folder."""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

_ISOLATION = re.compile(r"per-test isolation: (\d+) tests, mean ([\d.]+) ms")


@dataclass
class Inner:
    """The inner pytest of one test, and what it leaves on disk."""

    pytester: pytest.Pytester

    def run(self, *args: str, timeout: float = 240) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", *args, timeout=timeout
        )

    def base(self, worker: str = "main") -> Path:
        return self.pytester.path / ".harness" / "runs" / f"pytest-{worker}"

    def network_runs(self, worker: str = "main") -> list[Path]:
        return sorted(self.base(worker).glob("*-network-*"))

    @staticmethod
    def isolation(result: pytest.RunResult) -> tuple[int, float]:
        """(tests, mean ms) from the session's summary line."""
        found = _ISOLATION.search(result.stdout.str())
        assert found is not None, result.stdout.str()[-2000:]
        return int(found.group(1)), float(found.group(2))

    @staticmethod
    def ports_of(run: Path) -> list[int]:
        nodes = json.loads((run / "nodes.json").read_text())
        return [int(node["address"].rsplit(":", 1)[1]) for node in nodes.values()]

    @staticmethod
    def listening(port: int) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    @staticmethod
    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Inner:
    monkeypatch.delenv("HARNESS_RUNS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    return Inner(pytester)
