"""Every shipped scenario passes on the embedded default network; the same checks
fail against the deliberately naive orchestrator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.scenario import list_scenarios, parse_scenario, run_scenario

pytestmark = pytest.mark.hsm


@pytest.mark.parametrize("name", list_scenarios())
def test_shipped_scenario_passes(name: str, tmp_path: Path) -> None:
    report = run_scenario(name, run_root=tmp_path)

    failed = [o.to_json() for o in report.steps + report.checks if not o.passed]
    assert report.passed, failed or report.error
    written = json.loads((Path(report.run_dir) / "report.json").read_text())
    assert written["passed"] is True
    assert set(written) >= {"scenario", "network", "backend", "passed", "seconds",
                            "steps", "checks", "fabric", "ethereum"}  # fmt: skip
    assert written["fabric"]["tx_by_code"]["VALID"] > 0
    assert "<table>" in (Path(report.run_dir) / "report.html").read_text()


def test_the_checks_catch_double_issuance_by_a_naive_orchestrator(
    tmp_path: Path,
) -> None:
    scenario = parse_scenario(
        {
            "name": "naive-crashes",
            "steps": ["seed", {"crash-sweep": {"boundaries": True, "random": 0}}],
            "checks": [
                "no-double-issuance",
                "one-token-per-request",
                {"tokens-minted": 6},
            ],
        }
    )

    report = run_scenario(scenario, run_root=tmp_path, orchestrator="naive")

    assert not report.passed
    checks = {check.name: check for check in report.checks}
    assert not checks["no-double-issuance"].passed
    assert "more than one token" in checks["no-double-issuance"].detail
    assert not checks["one-token-per-request"].passed
    assert not checks["tokens-minted"].passed
