"""The fixture files, their validation, the loader and ``harness seed --dry-run``."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.chaincode.seed import (
    FixtureError,
    SeedError,
    fixtures_dir,
    load_fixtures,
    read_fixtures,
)
from harness.cli import main
from harness.errors import HarnessError


@dataclass(frozen=True)
class Outcome:
    code_name: str


class LedgerClient:
    """A client over the test ledger: a chaincode error raises, like endorsement."""

    def __init__(self, ledger: Any, code_name: str = "VALID") -> None:
        self.ledger = ledger
        self.code_name = code_name
        self.calls = 0

    def submit(self, channel: str, chaincode: str, function: str, args: Any) -> Outcome:
        self.calls += 1
        response = self.ledger.submit(chaincode, function, *args)
        if not response.ok:
            raise HarnessError(f"peer refused: {response.message}")
        return Outcome(self.code_name)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "fixtures"
    shutil.copytree(fixtures_dir() / "emissions", target / "emissions")
    return target


def test_bundled_fixtures_are_valid_and_name_their_sources() -> None:
    fixtures = read_fixtures()

    uuids = {row.uuid for row in fixtures.rows}
    assert {"USA_EIA_11208", "USA_2019_NERC_REGION_MRO", "USA_TEST_MRO"} <= uuids
    assert {row.args[1] for row in fixtures.factors} == {"2018", "2019"}
    assert any(row.args[13] for row in fixtures.factors)  # EU rows carry a percent
    assert all(row.source for row in fixtures.rows)


def test_load_imports_everything_then_skips_everything(ledger: Any) -> None:
    client = LedgerClient(ledger)
    fixtures = read_fixtures()
    seen: list[Any] = []

    first = load_fixtures(client, fixtures=fixtures, progress=seen.append)
    second = load_fixtures(client, fixtures=fixtures)

    assert len(first.imported) == len(fixtures.rows)
    assert second.as_dict()["skipped"] == len(fixtures.rows)
    assert second.imported == []
    assert [p.done for p in seen] == list(range(1, len(fixtures.rows) + 1))
    stored = ledger.json("utilityemissions", "getUtilityIdentifier", "USA_EIA_11208")
    assert stored["divisions"] == {
        "division_type": "NERC_REGION",
        "division_id": "WECC",
    }


def test_loaded_fixtures_give_the_check_value(ledger: Any) -> None:
    load_fixtures(LedgerClient(ledger))

    response = ledger.submit(
        "utilityemissions",
        "recordEmissions",
        "USA_TEST_MRO",
        "p",
        "2019-01-01T00:00:00Z",
        "2019-12-31T00:00:00Z",
        "100",
        "kWh",
        "u",
        "m",
    )

    assert f"{json.loads(response.payload)['emissionsAmount']:.10f}" == "0.1031879237"


def test_a_row_that_does_not_commit_stops_the_load(ledger: Any) -> None:
    with pytest.raises(SeedError, match="MVCC_READ_CONFLICT"):
        load_fixtures(LedgerClient(ledger, "MVCC_READ_CONFLICT"))


def test_a_refused_row_stops_the_load(ledger: Any, copy: Path) -> None:
    fixtures = read_fixtures(copy)

    with pytest.raises(SeedError, match="importUtilityIdentifier USA_EIA_11208"):
        load_fixtures(
            LedgerClient(ledger), channel="c", chaincode="datalock", fixtures=fixtures
        )


def _rewrite(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("factors.csv", "uuid,year", "id,year", "header"),
        (
            "factors.csv",
            ",MWH,47582155.875,tons",
            ",MWH,47582155.875,lbs",
            "UNKNOWN_UOM",
        ),
        ("factors.csv", "46112136.165", "-1", "non-negative"),
        (
            "factors.csv",
            "USA_2018_NERC_REGION_WECC,2018",
            "USA_2019_STATE_CA,2018",
            "twice",
        ),
        ("factors.csv", ",2019,Germany", ",20x9,Germany", "not a year"),
        ("utilities.json", '"division_id": "WECC"', '"division": "WECC"', "divisions"),
        ("utilities.json", '"source": "EIA-861', '"origin": "EIA-861', "source"),
    ],
    ids=[
        "bad-header",
        "unknown-unit",
        "negative",
        "duplicate-uuid",
        "bad-year",
        "bad-divisions",
        "no-source",
    ],
)
def test_malformed_fixtures_are_named(
    copy: Path, file: str, old: str, new: str, message: str
) -> None:
    _rewrite(copy / "emissions" / file, old, new)

    with pytest.raises(FixtureError, match=message) as problem:
        read_fixtures(copy)

    assert problem.value.exit_code == 2


def test_missing_fixture_folder(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="cannot read"):
        read_fixtures(tmp_path)


def test_cli_dry_run_lists_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["seed", "--dry-run", "--json"])

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["dry_run"] is True
    assert len(out["rows"]) == len(read_fixtures().rows)


def test_cli_without_a_running_network_says_how_to_start_one(
    capsys: pytest.CaptureFixture[str], runs_root: Path
) -> None:
    code = main(["seed"])

    assert code == 2
    assert "run 'harness up' first" in capsys.readouterr().err
