"""Scenario files and their runner: lock / record / mint flows on the whole system,
checked against both ledgers, reported as report.json and report.html.

>>> report = run_scenario("lock-record-mint")
>>> report.passed
True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.errors import ConfigError
from harness.runs import RunDir
from harness.scenario._model import (
    CHECK_KINDS,
    SCENARIOS_DIR,
    STEP_KEYS,
    Check,
    Scenario,
    Step,
    list_scenarios,
    load_scenario,
    parse_scenario,
)
from harness.scenario._replay import BlockReplay, replay_blocks
from harness.scenario._report import render_html, summary, write_reports
from harness.scenario._runner import Outcome, ScenarioReport, ScenarioRunner

DEFAULT_SCENARIO = "lock-record-mint"


def run_scenario(
    scenario: str | Path | Scenario = DEFAULT_SCENARIO,
    *,
    run_root: Path | None = None,
    network: str | None = None,
    orchestrator: str | None = None,
    progress: Callable[[str], None] | None = None,
    attach: RunDir | Path | None = None,
) -> ScenarioReport:
    """Load (if needed) and run one scenario in a new run folder; reports written.

    With ``attach`` (a run folder of ``harness up``, ``harness up --processes`` or
    ``harness up --via ansible``) the scenario runs on that network over gRPC
    instead of starting a simulated one; its checks read the ledgers over the wire.
    """
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    target = (
        attach if attach is None or isinstance(attach, RunDir) else RunDir.open(attach)
    )
    if target is not None and network is not None:
        raise ConfigError(
            "a scenario runs on a network spec or on an attached network, not both",
            hint="drop the network when attaching to a run folder",
        )
    run = RunDir.create("scenario", run_root)
    runner = ScenarioRunner(
        loaded,
        run,
        network=network,
        orchestrator=orchestrator,
        progress=progress,
        attach=target,
    )
    report = runner.run()
    write_reports(run, report)
    return report


__all__ = [
    "CHECK_KINDS",
    "DEFAULT_SCENARIO",
    "SCENARIOS_DIR",
    "STEP_KEYS",
    "BlockReplay",
    "Check",
    "Outcome",
    "Scenario",
    "ScenarioReport",
    "ScenarioRunner",
    "Step",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "render_html",
    "replay_blocks",
    "run_scenario",
    "summary",
    "write_reports",
]
