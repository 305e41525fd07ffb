"""Load the fixture utilities and emissions factors through ``utilityemissions``.

:func:`read_fixtures` reads and validates ``fixtures/emissions/`` (a clear error
names the file, the row and the field); :func:`load_fixtures` imports every row
with ``importUtilityIdentifier`` / ``importUtilityFactor`` through a Fabric client,
as any client would. Rows that already exist are skipped, so loading twice is
harmless.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.chaincode.utilityemissions import (
    FACTOR_FIELDS,
    LOOKUP_FIELDS,
    ChaincodeFailure,
    unit_factor,
)
from harness.errors import ConfigError, HarnessError

log = logging.getLogger(__name__)

FIXTURES_ENV = "HARNESS_FIXTURES"
FACTORS_FILE = "emissions/factors.csv"
UTILITIES_FILE = "emissions/utilities.json"
DEFAULT_CHANNEL = "utilityemissionchannel"
DEFAULT_CHAINCODE = "utilityemissions"
ALREADY_EXISTS = "STATE_ALREADY_EXISTS"

Kind = Literal["utility", "factor"]
Outcome = Literal["imported", "skipped"]


class FixtureError(ConfigError):
    """A fixture file is missing or one of its rows is malformed."""


class SeedError(HarnessError):
    """The network refused a fixture row for a reason other than 'already there'."""

    exit_code = 1


def fixtures_dir() -> Path:
    """``$HARNESS_FIXTURES``, else the ``fixtures`` folder of the source tree."""
    configured = os.environ.get(FIXTURES_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "fixtures"


@dataclass(frozen=True)
class FixtureRow:
    """One row to import: its kind, its uuid, the chaincode arguments, its source."""

    kind: Kind
    uuid: str
    args: tuple[str, ...]
    source: str
    where: str  # file:line, for messages

    @property
    def function(self) -> str:
        if self.kind == "utility":
            return "importUtilityIdentifier"
        return "importUtilityFactor"


@dataclass(frozen=True)
class FixtureSet:
    utilities: tuple[FixtureRow, ...]
    factors: tuple[FixtureRow, ...]

    @property
    def rows(self) -> tuple[FixtureRow, ...]:
        """Utilities first (recordEmissions needs both; the order is cosmetic)."""
        return self.utilities + self.factors


def _number_or_empty(value: str, where: str, name: str) -> None:
    if not value:
        return
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise FixtureError(f"{where}: {name} {value!r} is not a non-negative number")


def _check_factor(row: dict[str, str], where: str) -> None:
    for name in ("uuid", "year", "division_type", "division_id", "source"):
        if not row[name]:
            raise FixtureError(f"{where}: {name} is empty")
    if not row["year"].isdigit():
        raise FixtureError(f"{where}: year {row['year']!r} is not a year")
    for name in ("net_generation", "co2_equivalent_emissions", "renewables"):
        _number_or_empty(row[name], where, name)
    _number_or_empty(row["non_renewables"], where, "non_renewables")
    _number_or_empty(row["percent_of_renewables"], where, "percent_of_renewables")
    units = row["co2_equivalent_emissions_uom"].split("/")
    if not row["percent_of_renewables"]:
        units.append(row["net_generation_uom"])
        for name in ("net_generation", "co2_equivalent_emissions"):
            if not row[name]:
                raise FixtureError(f"{where}: eGRID-style row needs {name}")
    try:
        for unit in units:
            unit_factor(unit)
    except ChaincodeFailure as failure:
        raise FixtureError(f"{where}: {failure}") from None


def read_factors(path: Path) -> tuple[FixtureRow, ...]:
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != FACTOR_FIELDS:
                raise FixtureError(
                    f"{path}: the header must be the factor fields in order",
                    hint=",".join(FACTOR_FIELDS),
                )
            rows = []
            for line, row in enumerate(reader, start=2):
                where = f"{path.name}:{line}"
                if None in row or any(value is None for value in row.values()):
                    raise FixtureError(
                        f"{where}: expected {len(FACTOR_FIELDS)} columns"
                    )
                _check_factor(row, where)
                args = tuple(row[name] for name in FACTOR_FIELDS)
                rows.append(
                    FixtureRow("factor", row["uuid"], args, row["source"], where)
                )
    except OSError as problem:
        raise FixtureError(f"cannot read {path}: {problem.strerror}") from None
    return tuple(rows)


def _utility_row(item: Any, where: str) -> FixtureRow:
    if not isinstance(item, dict):
        raise FixtureError(f"{where}: a utility must be a JSON object")
    missing = [name for name in (*LOOKUP_FIELDS, "source") if name not in item]
    if missing:
        raise FixtureError(f"{where}: missing {', '.join(missing)}")
    divisions = item["divisions"]
    if not isinstance(divisions, dict) or not all(
        isinstance(divisions.get(k), str) and divisions.get(k)
        for k in ("division_type", "division_id")
    ):
        raise FixtureError(f"{where}: divisions needs division_type and division_id")
    if not item["uuid"]:
        raise FixtureError(f"{where}: uuid is empty")
    args = [str(item[name]) for name in LOOKUP_FIELDS[:-1]]
    args.append(json.dumps(divisions, sort_keys=True))
    return FixtureRow(
        "utility", str(item["uuid"]), tuple(args), str(item["source"]), where
    )


def read_utilities(path: Path) -> tuple[FixtureRow, ...]:
    try:
        items = json.loads(path.read_text())
    except OSError as problem:
        raise FixtureError(f"cannot read {path}: {problem.strerror}") from None
    except ValueError as problem:
        raise FixtureError(f"{path} is not JSON: {problem}") from None
    if not isinstance(items, list):
        raise FixtureError(f"{path}: expected a JSON array of utilities")
    return tuple(
        _utility_row(item, f"{path.name}[{index}]") for index, item in enumerate(items)
    )


def read_fixtures(directory: Path | None = None) -> FixtureSet:
    """The fixture rows of ``directory`` (default :func:`fixtures_dir`), validated."""
    root = directory if directory is not None else fixtures_dir()
    fixtures = FixtureSet(
        utilities=read_utilities(root / UTILITIES_FILE),
        factors=read_factors(root / FACTORS_FILE),
    )
    seen: set[str] = set()
    for row in fixtures.rows:
        if row.uuid in seen:
            raise FixtureError(f"{row.where}: uuid {row.uuid} appears twice")
        seen.add(row.uuid)
    return fixtures


# --- loading ---------------------------------------------------------------------


class SubmitOutcome(Protocol):
    @property
    def code_name(self) -> str: ...


class SeedClient(Protocol):
    """What the loader needs of a client (``harness.fabric.client.FabricClient``)."""

    def submit(
        self, channel: str, chaincode: str, function: str, args: Sequence[str]
    ) -> SubmitOutcome: ...


@dataclass(frozen=True)
class SeedProgress:
    """One row done: what it was, what happened, how far along the load is."""

    row: FixtureRow
    outcome: Outcome
    done: int
    total: int


@dataclass
class SeedReport:
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": len(self.imported),
            "skipped": len(self.skipped),
            "imported_uuids": list(self.imported),
            "skipped_uuids": list(self.skipped),
        }


def _import_row(
    client: SeedClient, channel: str, chaincode: str, row: FixtureRow
) -> Outcome:
    try:
        result = client.submit(channel, chaincode, row.function, list(row.args))
    except HarnessError as problem:
        if ALREADY_EXISTS in str(problem):
            return "skipped"
        raise SeedError(
            f"{row.where}: {row.function} {row.uuid} failed: {problem}"
        ) from None
    if result.code_name != "VALID":
        raise SeedError(
            f"{row.where}: {row.function} {row.uuid} committed as {result.code_name}",
            hint="another client may be loading the same rows; run the load again",
        )
    return "imported"


def load_fixtures(
    client: SeedClient,
    channel: str = DEFAULT_CHANNEL,
    *,
    chaincode: str = DEFAULT_CHAINCODE,
    fixtures: FixtureSet | None = None,
    progress: Callable[[SeedProgress], None] | None = None,
) -> SeedReport:
    """Import every fixture row through ``client``; existing rows are skipped."""
    rows = (fixtures if fixtures is not None else read_fixtures()).rows
    report = SeedReport()
    for done, row in enumerate(rows, start=1):
        outcome = _import_row(client, channel, chaincode, row)
        (report.imported if outcome == "imported" else report.skipped).append(row.uuid)
        log.debug("%s %s: %s", row.kind, row.uuid, outcome)
        if progress is not None:
            progress(SeedProgress(row, outcome, done, len(rows)))
    log.info(
        "fixtures on %s/%s: %d imported, %d already there",
        channel,
        chaincode,
        len(report.imported),
        len(report.skipped),
    )
    return report
