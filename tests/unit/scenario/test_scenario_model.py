from pathlib import Path

import pytest

from harness.scenario import list_scenarios, load_scenario, parse_scenario
from harness.scenario._model import split_records_ref
from harness.spec import SpecError

SHIPPED = [
    "contention",
    "crash-resume",
    "emissions-date-policy",
    "ethereum-failure",
    "hsm-identities",
    "lock-record-mint",
]


def test_every_shipped_scenario_loads() -> None:
    assert list_scenarios() == SHIPPED
    for name in SHIPPED:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.steps
        assert scenario.checks


def _steps(*steps: object) -> dict[str, object]:
    return {"name": "t", "steps": list(steps)}


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        (_steps({"audti": {"request": "a", "records": "b"}}), "steps[0]", "'audit'"),
        (_steps({"crash": {"request": "a", "records": "b", "at": "after-lunch"}}),
         "steps[0].crash.at", "after-mint"),
        (_steps({"audit": {"request": "a"}}), "steps[0].audit", "'records'"),
        (_steps({"audit": {"request": "a", "records": "b[x:2]"}}),
         "steps[0].audit.records", "record reference"),
        (_steps({"record": {"as": "b", "count": 0}}), "steps[0].record.count", "out of range"),
        (_steps({"set-policy": {"emissions-date": "June"}}),
         "steps[0].set-policy.emissions-date", "MM-DD"),
        ({"name": "t", "steps": ["seed"], "checks": [{"no-lock": True}]},
         "checks[0]", "'no-locks'"),
        ({"name": "t", "steps": []}, "steps", "at least one step"),
        ({"name": "t", "steps": ["seed"], "orchestrator": "smart"}, "orchestrator", "naive"),
    ],
    ids=[
        "misspelt-step",
        "unknown-crash-point",
        "missing-records",
        "bad-slice",
        "zero-count",
        "bad-policy-date",
        "misspelt-check",
        "no-steps",
        "unknown-orchestrator",
    ],
)  # fmt: skip
def test_mistakes_name_the_key_path_and_the_fix(
    data: object, path: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_scenario(data, "bad.yaml")

    assert caught.value.key_path == path
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("bad.yaml: ")


def test_unknown_scenario_name_lists_the_shipped_ones() -> None:
    with pytest.raises(SpecError, match="did you mean 'contention'"):
        load_scenario("contentoin")


def test_scenario_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nsteps:\n  - seed\n  - record: {as: b, count: 2}\n")

    scenario = load_scenario(path)

    assert [step.kind for step in scenario.steps] == ["seed", "record"]
    assert scenario.network == "default"
    assert scenario.orchestrator == "request-manager"


def test_record_references_slice_like_python() -> None:
    name, part = split_records_ref("bills[1:3]")
    assert name == "bills"
    assert ["a", "b", "c", "d"][part] == ["b", "c"]
    assert split_records_ref("bills")[1] == slice(None, None)
