"""Benchmark files: what loads, and the errors that name file, key and values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.bench import (
    FixedLoad,
    FixedRate,
    LinearRamp,
    load_benchmark,
    parse_benchmark,
)
from harness.bench._workload import register_limit
from harness.errors import ConfigError

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"

_BASE = {
    "workload": {"name": "calibration-sleep", "options": {"sleep_ms": 2}},
    "phases": [{"type": "fixed-rate", "rps": 10, "duration_s": 2}],
}


def _with(**changes: object) -> dict[str, object]:
    return {**_BASE, **changes}


def test_token_issues_file_loads_with_three_kinds_of_phase() -> None:
    spec = load_benchmark(SCENARIOS / "bench-token-issues.yaml")
    assert spec.workload == "token-issues"
    kinds = [type(p) for p in spec.schedule.phases]
    assert kinds == [FixedRate, FixedLoad, LinearRamp]
    assert spec.schedule.warmup_s == 1
    assert spec.limits == ("eth_tester_issue",)
    shorter = spec.with_duration(3)
    assert shorter.schedule.measured_s == pytest.approx(3)


def test_reference_file_audits_through_the_request_manager() -> None:
    spec = load_benchmark(SCENARIOS / "bench-request-manager.yaml")
    assert spec.workload_options == {
        "records_per_request": 3,
        "key_space": 4500,
        "auditors": 8,
        "served": False,
        "served_chain": True,
    }
    assert spec.limits is None  # the workload's own limits, in audits per second
    kinds = [type(p) for p in spec.schedule.phases]
    assert kinds == [FixedRate, FixedLoad, LinearRamp]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(phases=[{"type": "burst"}]), r"phases\[0\]\.type.*allowed: fixed-rate"),
        (
            _with(phases=[{"type": "fixed-rate", "rps": 5}]),
            r"phases\[0\]\.duration_s: missing",
        ),
        (
            _with(phases=[{"type": "fixed-rate", "rps": -1, "duration_s": 1}]),
            r"phases\[0\]\.rps: must be a number",
        ),
        (_with(workload={"name": "nope"}), r"workload\.name.*known workloads"),
        (
            _with(workload={"name": "calibration-sleep", "options": {"speed": 1}}),
            r"workload\.options\.speed: unknown option.*allowed: sleep_ms",
        ),
        (
            _with(workload={"name": "calibration-sleep", "key_space": 5}),
            r"workload\.key_space: not used",
        ),
        (_with(workers=0), r"workers: must be a whole number"),
        (_with(colour="red"), r"colour: unknown key.*allowed: name"),
        (_with(limits=["cpu"]), r"limits\[0\].*unknown limit"),
        ([1, 2], r"top level: must be a mapping"),
    ],
    ids=[
        "phase-type",
        "missing-key",
        "negative",
        "workload",
        "option",
        "unused",
        "workers",
        "top-key",
        "limit",
        "not-mapping",
    ],
)
def test_mistakes_name_the_file_and_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_benchmark(data, source="bench.yaml")
    assert str(caught.value).startswith("bench.yaml: ")


def test_a_limit_that_cannot_be_measured_yet_says_why() -> None:
    register_limit("not_built_yet", None, unavailable="it needs the moon")
    with pytest.raises(ConfigError, match=r"limits\[0\].*the moon"):
        parse_benchmark(_with(limits=["not_built_yet"]), source="bench.yaml")


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read benchmark file"):
        load_benchmark(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("phases: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_benchmark(broken)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_BASE))
    assert load_benchmark(good).name == "good"
