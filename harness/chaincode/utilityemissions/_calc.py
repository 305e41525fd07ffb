"""The data-driven part of ``utilityemissions``: units, factor choice, emissions.

Pure functions over plain dicts, so each rule can be tested without a ledger.
Failures raise :class:`ChaincodeFailure`, whose message already carries the
DOMAIN.md prefix (``UNKNOWN_UOM : ...``); the contract turns it into a Response.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

STATE_NOT_FOUND = "STATE_NOT_FOUND"
STATE_ALREADY_EXISTS = "STATE_ALREADY_EXISTS"
INVALID_QUERY_STRING = "INVALID_QUERY_STRING"
UNKNOWN_UOM = "UNKNOWN_UOM"
INVALID_DATA_FORMAT = "INVALID_DATA_FORMAT"
INVALID_NUMBER_OF_ARGUMENT = "INVALID_NUMBER_OF_ARGUMENT"
INVALID_ARGUMENT = "INVALID_ARGUMENT"
METHOD_NOT_SUPPORTED = "METHOD_NOT_SUPPORTED"

# Energy in Wh, mass in kg. 'pg' is absent on purpose: DOMAIN.md's table has none.
UNIT_FACTORS: Mapping[str, float] = {
    "wh": 1.0,
    "kwh": 1e3,
    "mwh": 1e6,
    "gwh": 1e9,
    "twh": 1e12,
    "g": 0.001,
    "kg": 1.0,
    "t": 1e3,
    "ton": 1e3,
    "tons": 1e3,
    "kt": 1e6,
    "mt": 1e9,
    "gt": 1e12,
}

YEARS_BACK = 5  # a factor may be up to this many years older than thruDate


class ChaincodeFailure(Exception):
    """A refusal of the chaincode; ``str()`` is the message the client sees."""

    def __init__(self, prefix: str, sentence: str, status: int = 500) -> None:
        super().__init__(f"{prefix} : {sentence}")
        self.prefix = prefix
        self.status = status


def unit_factor(uom: str) -> float:
    """The size of ``uom`` in Wh or kg, case-insensitive; UNKNOWN_UOM otherwise."""
    factor = UNIT_FACTORS.get(uom.strip().lower()) if uom else None
    if factor is None:
        raise ChaincodeFailure(UNKNOWN_UOM, f"{uom!r} is not a valid uom", 400)
    return factor


def year_of(date: str) -> int:
    """The year of an ISO-8601 date string; INVALID_DATA_FORMAT when it is none."""
    try:
        return datetime.datetime.fromisoformat(date).year
    except (TypeError, ValueError):
        raise ChaincodeFailure(
            INVALID_DATA_FORMAT, f"{date!r} is not an ISO-8601 date", 400
        ) from None


def candidate_years(year: int) -> list[str]:
    """The factor years to try, newest first: ``year`` then five earlier ones."""
    return [str(year - back) for back in range(YEARS_BACK + 1)]


def choose_division(lookup: Mapping[str, object]) -> tuple[str, str]:
    """(division_type, division_id) of the factor a utility's emissions use.

    The state when the lookup item has one, else its NERC region, else its
    (non-US) country, else the USA as a whole.
    """
    state = lookup.get("state_province")
    if isinstance(state, str) and state:
        return "STATE", state
    divisions = lookup.get("divisions")
    kind, ident = "", ""
    if isinstance(divisions, Mapping):
        kind = str(divisions.get("division_type") or "")
        ident = str(divisions.get("division_id") or "")
    if kind.lower() == "nerc_region" and ident:
        return kind, ident
    if kind.lower() == "country" and ident and ident.lower() != "usa":
        return "Country", ident
    return "Country", "USA"


@dataclass(frozen=True)
class Emissions:
    """What one usage amount comes to under one factor."""

    amount: float
    renewable: float
    nonrenewable: float
    uom: str  # the unit of ``amount`` as the 2021 chaincode names it


def _number(factor: Mapping[str, str], field: str) -> float:
    raw = factor.get(field, "")
    try:
        return float(raw)
    except (TypeError, ValueError):
        uuid = factor.get("uuid", "?")
        raise ChaincodeFailure(
            INVALID_ARGUMENT, f"factor {uuid} has no number in {field} ({raw!r})", 400
        ) from None


def has_percent(factor: Mapping[str, str]) -> bool:
    """Whether the factor carries a renewable percentage (the EU branch)."""
    return bool(str(factor.get("percent_of_renewables") or "").strip())


def emissions_from_percent(factor: Mapping[str, str], usage: float) -> Emissions:
    """EU rows: an intensity ``num/den`` (e.g. g/KWH) and a renewable percentage.

    As in the 2021 chaincode the usage's own unit is not consulted: the result is
    in tonnes exactly when the usage is in the intensity's denominator unit and the
    numerator is grams (see docs/deviations.md).
    """
    uom = factor.get("co2_equivalent_emissions_uom", "")
    parts = uom.split("/")
    if len(parts) != 2:
        raise ChaincodeFailure(
            UNKNOWN_UOM,
            f"co2_equivalent_emissions_uom {uom!r} of factor "
            f"{factor.get('uuid', '?')} is not 'mass/energy'",
            400,
        )
    numerator, denominator = unit_factor(parts[0]), unit_factor(parts[1])
    amount = _number(factor, "co2_equivalent_emissions") * usage * numerator
    amount = amount / denominator
    share = _number(factor, "percent_of_renewables") / 100
    return Emissions(amount, usage * share, usage * (1 - share), "g")


def emissions_from_generation(
    factor: Mapping[str, str], usage: float, usage_uom: str
) -> Emissions:
    """US eGRID rows: total CO2e over net generation, in tons; split by generation."""
    to_generation_unit = unit_factor(usage_uom) / unit_factor(
        factor.get("net_generation_uom", "")
    )
    to_tons = unit_factor(factor.get("co2_equivalent_emissions_uom", "")) / (
        unit_factor("tons")
    )
    co2e = _number(factor, "co2_equivalent_emissions")
    generation = _number(factor, "net_generation")
    if generation == 0:
        raise ChaincodeFailure(
            INVALID_ARGUMENT, f"factor {factor.get('uuid', '?')} has no generation", 400
        )
    # Same order of operations as the 2021 chaincode, so the floats agree bit for bit.
    amount = co2e / generation * usage * to_generation_unit * to_tons
    renewables = _number(factor, "renewables")
    nonrenewables = _number(factor, "non_renewables")
    total = nonrenewables + renewables
    if total == 0:
        return Emissions(amount, 0.0, usage, "tons")
    return Emissions(
        amount, usage * (renewables / total), usage * (nonrenewables / total), "tons"
    )


def compute_emissions(
    factor: Mapping[str, str], usage: float, usage_uom: str
) -> Emissions:
    """The branch the factor calls for; the usage unit is checked in both."""
    unit_factor(usage_uom)
    if has_percent(factor):
        return emissions_from_percent(factor, usage)
    return emissions_from_generation(factor, usage, usage_uom)


def factor_source(factor: Mapping[str, str]) -> str:
    """The record's ``factorSource``: ``eGrid <year> <division_type> <division_id>``."""
    return (
        f"eGrid {factor.get('year', '')} {factor.get('division_type', '')} "
        f"{factor.get('division_id', '')}"
    )
