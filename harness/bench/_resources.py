"""CPU and memory of each process involved in a run, sampled once a second."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class NodeUsage:
    """One node's samples: seconds since the measured start, CPU %, resident MB."""

    name: str
    pid: int
    samples: list[tuple[float, float, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        cpus = [s[1] for s in self.samples]
        rss = [s[2] for s in self.samples]
        return {
            "pid": self.pid,
            "samples": len(self.samples),
            "cpu_percent_mean": round(sum(cpus) / len(cpus), 1) if cpus else None,
            "cpu_percent_max": round(max(cpus), 1) if cpus else None,
            "rss_mb_max": round(max(rss), 1) if rss else None,
        }


class ResourceSampler:
    """A thread that samples ``nodes`` (name -> pid) every ``interval`` seconds.

    A process shared by several nodes (in-process nodes share the harness's) is
    sampled once per name all the same, so the report names every node. A process
    that goes away stops being sampled and keeps its earlier samples.
    """

    def __init__(self, nodes: dict[str, int], interval: float = 1.0) -> None:
        self.usage = {name: NodeUsage(name, pid) for name, pid in nodes.items()}
        self.interval = interval
        self._origin = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="bench-resources", daemon=True
        )
        self._processes: dict[str, Any] = {}

    def start(self, origin: float) -> None:
        import psutil

        self._origin = origin
        for name, usage in self.usage.items():
            try:
                process = psutil.Process(usage.pid)
                process.cpu_percent(None)  # the first reading only sets a baseline
                self._processes[name] = process
            except psutil.Error as exc:
                log.warning("cannot sample node %s (pid %s): %s", name, usage.pid, exc)
        self._thread.start()

    def stop(self) -> dict[str, NodeUsage]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 1)
        return self.usage

    def _loop(self) -> None:
        import psutil

        while not self._stop.wait(self.interval):
            offset = time.perf_counter() - self._origin
            for name, process in list(self._processes.items()):
                try:
                    with process.oneshot():
                        cpu = process.cpu_percent(None)
                        rss = process.memory_info().rss / 1e6
                except psutil.Error:
                    log.info("node %s (pid %s) is gone", name, process.pid)
                    del self._processes[name]
                    continue
                self.usage[name].samples.append((offset, cpu, rss))
