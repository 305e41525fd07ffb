"""Distributed load through Locust: a User that drives a harness workload.

Import this module from a locustfile (``scenarios/locustfile.py`` does) and run
Locust as usual, one master and any number of workers on as many machines::

    locust -f scenarios/locustfile.py --master --headless -u 8 -r 8 -t 60s \\
        --expect-workers 2 --harness-bench scenarios/bench-token-issues.yaml \\
        --harness-report locust-report.json
    locust -f scenarios/locustfile.py --worker --master-host HOST \\
        --harness-bench scenarios/bench-token-issues.yaml

Every worker process sets the workload up once and shares it among its users.
Each operation fires Locust's request event (type ``harness``, the workload's
name, the latency in ms; a failure carries its failure class), so Locust's own
statistics and web UI work unchanged. Beside them each worker keeps a harness
latency histogram and failure counts, sends them with its periodic reports, and
the master merges them and writes ``--harness-report`` when it quits: per worker
counts and the merged percentiles.

Rate: ``--harness-rps-per-user R`` paces each user at R operations per second
(Locust's constant throughput); 0 runs back to back. Latency here is measured
from the actual send, Locust's model, not from an intended send time as in
``harness bench``.

Importing this module imports Locust, which patches the standard library with
gevent: never import it from the harness itself or from a test process.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import User, events, task
from locust.runners import MasterRunner, WorkerRunner

from harness.bench._histogram import LatencyHistogram
from harness.bench._workload import (
    FAILURE_CLASSES,
    Workload,
    classify_failure,
    create_workload,
)
from harness.errors import HarnessError

log = logging.getLogger(__name__)

REQUEST_TYPE = "harness"
_REPORT_KEY = "harness_bench"


class OperationError(HarnessError):
    """What Locust records for a failed operation: its class is the message."""

    exit_code = 1


class _WorkerState:
    """This process's workload and the measurements not yet sent to the master."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.workload: Workload | None = None
        self.index = 0
        self.latency = LatencyHistogram()
        self.failed: dict[str, int] = {}
        self.succeeded = 0

    def ensure_workload(self, options: Any) -> Workload:
        with self.lock:
            if self.workload is None:
                name, workload_options = _workload_config(options)
                workload = create_workload(name, workload_options)
                workload.setup()
                log.info("locust worker %s: workload %s set up", os.getpid(), name)
                self.workload = workload
            return self.workload

    def next_index(self) -> int:
        with self.lock:
            self.index += 1
            return self.index

    def take_report(self) -> dict[str, Any]:
        with self.lock:
            report = {
                "pid": os.getpid(),
                "succeeded": self.succeeded,
                "failed": dict(self.failed),
                "latency": self.latency.to_dict(),
            }
            self.latency = LatencyHistogram()
            self.failed = {}
            self.succeeded = 0
        return report

    def teardown(self) -> None:
        with self.lock:
            workload, self.workload = self.workload, None
        if workload is not None:
            workload.teardown()


_STATE = _WorkerState()


class HarnessUser(User):
    """One simulated client: runs the configured workload's operation in a loop."""

    abstract = False
    _harness_started = 0.0

    def wait_time(self) -> float:
        rate = float(
            getattr(self.environment.parsed_options, "harness_rps_per_user", 0)
        )
        if rate <= 0:
            return 0.0
        # Constant throughput: wait what is left of this operation's 1 / rate slot.
        return max(0.0, 1 / rate - (time.perf_counter() - self._harness_started))

    def on_start(self) -> None:
        _STATE.ensure_workload(self.environment.parsed_options)

    @task
    def operate(self) -> None:
        workload = _STATE.ensure_workload(self.environment.parsed_options)
        index = _STATE.next_index()
        started = self._harness_started = time.perf_counter()
        error: Exception | None = None
        try:
            workload.operation(index)
        except Exception as exc:
            failure = classify_failure(exc, workload.classify)
            error = OperationError(failure)
            with _STATE.lock:
                _STATE.failed[failure] = _STATE.failed.get(failure, 0) + 1
        elapsed = time.perf_counter() - started
        if error is None:
            with _STATE.lock:
                _STATE.succeeded += 1
                _STATE.latency.record(elapsed)
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=workload.name,
            response_time=elapsed * 1000,
            response_length=0,
            exception=error,
            context={},
        )


def _workload_config(options: Any) -> tuple[str, dict[str, Any]]:
    """The workload name and options from --harness-bench or --harness-workload."""
    bench = getattr(options, "harness_bench", "") or os.environ.get(
        "HARNESS_BENCH_FILE", ""
    )
    if bench:
        from harness.bench._config import load_benchmark

        spec = load_benchmark(Path(bench))
        return spec.workload, spec.workload_options
    name = getattr(options, "harness_workload", "") or "calibration-sleep"
    raw = getattr(options, "harness_options", "") or "{}"
    return name, dict(json.loads(raw))


# -- the master's merged report


class _MasterState:
    def __init__(self) -> None:
        self.workers: dict[str, dict[str, Any]] = {}
        self.latency = LatencyHistogram()

    def add(self, client_id: str, data: dict[str, Any]) -> None:
        worker = self.workers.setdefault(
            client_id,
            {"pid": data.get("pid"), "requests": 0, "succeeded": 0, "failed": {}},
        )
        failed = data.get("failed", {})
        worker["succeeded"] += int(data.get("succeeded", 0))
        worker["requests"] += int(data.get("succeeded", 0)) + sum(failed.values())
        for name, count in failed.items():
            worker["failed"][name] = worker["failed"].get(name, 0) + int(count)
        self.latency.merge(LatencyHistogram.from_dict(data["latency"]))

    def report(self) -> dict[str, Any]:
        failed = dict.fromkeys(FAILURE_CLASSES, 0)
        for worker in self.workers.values():
            for name, count in worker["failed"].items():
                failed[name] = failed.get(name, 0) + count
        return {
            "workers": self.workers,
            "requests": sum(w["requests"] for w in self.workers.values()),
            "succeeded": sum(w["succeeded"] for w in self.workers.values()),
            "failed": failed,
            "latency_ms": self.latency.summary_ms(),
        }


_MASTER = _MasterState()


def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("harness", "harness workload options")
    group.add_argument(
        "--harness-bench", default="", help="benchmark file whose workload to drive"
    )
    group.add_argument(
        "--harness-workload",
        default="",
        help="workload name when no benchmark file is given (calibration-sleep)",
    )
    group.add_argument(
        "--harness-options", default="", help="workload options as a JSON object"
    )
    group.add_argument(
        "--harness-rps-per-user",
        type=float,
        default=0.0,
        help="operations per second per user (0: back to back)",
    )
    group.add_argument(
        "--harness-report",
        default="",
        help="master: write the merged harness report (JSON) here on exit",
    )


def _report_to_master(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    data[_REPORT_KEY] = _STATE.take_report()


def _worker_report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    if _REPORT_KEY in data:
        _MASTER.add(client_id, data[_REPORT_KEY])


def _test_stop(environment: Any, **_kwargs: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        _STATE.teardown()


def _quitting(environment: Any, **_kwargs: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        return
    target = getattr(environment.parsed_options, "harness_report", "")
    if target:
        from harness.runs import write_atomic

        report = _MASTER.report()
        write_atomic(Path(target), json.dumps(report, indent=2, sort_keys=True) + "\n")
        log.info("harness report for %s workers in %s", len(report["workers"]), target)


def _listen(hook: Any, handler: Callable[..., Any]) -> None:
    """Add a listener (Locust's hooks are untyped; this keeps mypy strict here)."""
    hook.add_listener(handler)


# Registered on import: Locust imports the locustfile before it parses options.
_listen(events.init_command_line_parser, _add_arguments)
_listen(events.report_to_master, _report_to_master)
_listen(events.worker_report, _worker_report)
_listen(events.test_stop, _test_stop)
_listen(events.quitting, _quitting)
