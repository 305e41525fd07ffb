"""Scenario files as test items: ``pytest scenarios/`` runs each scenario.

A YAML file is collected only when the user named it, or named the folder it sits
in, so the project's own ``pytest`` (testpaths = tests) never pays for scenarios.
Benchmark files (``bench-*``) are not scenarios.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

SUFFIXES = (".yaml", ".yml")


def wanted(path: Path, named: Iterable[Path]) -> bool:
    """Whether ``path`` is a scenario file the user asked for."""
    if path.suffix not in SUFFIXES or path.name.startswith("bench-"):
        return False
    resolved = path.resolve()
    if not any(arg in (resolved, resolved.parent) for arg in named):
        return False
    return _looks_like_scenario(path)


def _looks_like_scenario(path: Path) -> bool:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return True  # let the item report the file's problem
    return isinstance(data, dict) and "steps" in data


def named_paths(args: Iterable[str], invocation_dir: Path) -> list[Path]:
    """The paths of the command line's arguments (node ids without their ``::``)."""
    return [(invocation_dir / arg.split("::")[0]).resolve() for arg in args]


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioFailed(Exception):
    """A scenario's steps or checks failed; the message lists them."""


class ScenarioItem(pytest.Item):
    """One scenario, run by :func:`harness.scenario.run_scenario` in its own run
    folder under the session's base."""

    def runtest(self) -> None:
        from harness.plugin import session_of
        from harness.scenario import run_scenario

        session = session_of(self.config)
        network = self.config.getoption("harness_network", default=None)
        report = run_scenario(self.path, run_root=session.base, network=network)
        self.user_properties.append(("harness_run_dir", report.run_dir))
        if not report.passed:
            raise ScenarioFailed(_failure_text(report))

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"


def _failure_text(report: Any) -> str:
    lines = [f"scenario {report.scenario} failed (run folder {report.run_dir})"]
    if report.error:
        lines.append(f"  error: {report.error}")
    for kind, outcomes in (("step", report.steps), ("check", report.checks)):
        for outcome in outcomes:
            if not outcome.passed:
                lines.append(f"  {kind} {outcome.name}: {outcome.detail}")
    return "\n".join(lines)
