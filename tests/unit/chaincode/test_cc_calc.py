"""Units, factor choice and the two emissions branches, as pure functions."""

from __future__ import annotations

import pytest

from harness.chaincode.utilityemissions import (
    ChaincodeFailure,
    candidate_years,
    choose_division,
    compute_emissions,
    emissions_from_percent,
    factor_source,
    unit_factor,
    year_of,
)

MRO_2019 = {
    "uuid": "USA_2019_NERC_REGION_MRO",
    "year": "2019",
    "division_type": "NERC_REGION",
    "division_id": "MRO",
    "net_generation": "46112136.165",
    "net_generation_uom": "MWH",
    "co2_equivalent_emissions": "47582155.875",
    "co2_equivalent_emissions_uom": "tons",
    "renewables": "5033683.71",
    "non_renewables": "41078452.268",
    "percent_of_renewables": "",
}
GERMANY = {
    "uuid": "DEU_2019_COUNTRY_Germany",
    "year": "2019",
    "division_type": "Country",
    "division_id": "Germany",
    "co2_equivalent_emissions": "350",
    "co2_equivalent_emissions_uom": "g/KWH",
    "percent_of_renewables": "40",
}


@pytest.mark.parametrize(
    ("uom", "size"),
    [
        ("wh", 1),
        ("kwh", 1e3),
        ("mwh", 1e6),
        ("gwh", 1e9),
        ("twh", 1e12),
        ("g", 0.001),
        ("kg", 1),
        ("t", 1e3),
        ("ton", 1e3),
        ("tons", 1e3),
        ("kt", 1e6),
        ("mt", 1e9),
        ("gt", 1e12),
        ("KWH", 1e3),
        ("MWh", 1e6),
        ("Tons", 1e3),
    ],
    ids=str,
)
def test_unit_table(uom: str, size: float) -> None:
    assert unit_factor(uom) == size


@pytest.mark.parametrize("uom", ["", "btu", "pg", "kw", "lbs"], ids=repr)
def test_unknown_unit(uom: str) -> None:
    with pytest.raises(ChaincodeFailure, match=r"^UNKNOWN_UOM : ") as failure:
        unit_factor(uom)
    assert failure.value.status == 400


def test_check_value() -> None:
    result = compute_emissions(MRO_2019, 100, "kWh")

    assert f"{result.amount:.10f}" == "0.1031879237"
    assert round(result.renewable, 3) == 10.916
    assert round(result.nonrenewable, 3) == 89.084
    assert result.uom == "tons"
    assert factor_source(MRO_2019) == "eGrid 2019 NERC_REGION MRO"


def test_generation_branch_converts_usage_and_mass_units() -> None:
    in_kg = {**MRO_2019, "co2_equivalent_emissions_uom": "kg"}

    per_mwh = compute_emissions(MRO_2019, 0.1, "MWh").amount
    per_kg = compute_emissions(in_kg, 100, "kwh").amount

    assert per_mwh == pytest.approx(0.1031879237, abs=5e-11)
    assert per_kg == pytest.approx(0.1031879237e-3, abs=5e-14)


def test_generation_branch_without_generation_mix_counts_all_nonrenewable() -> None:
    factor = {**MRO_2019, "renewables": "0", "non_renewables": "0"}

    result = compute_emissions(factor, 50, "kwh")

    assert (result.renewable, result.nonrenewable) == (0.0, 50)


def test_percent_branch() -> None:
    result = compute_emissions(GERMANY, 100, "kwh")

    assert result.amount == pytest.approx(350 * 100 * 0.001 / 1000)
    assert result.renewable == pytest.approx(40)
    assert result.nonrenewable == pytest.approx(60)
    assert result.uom == "g"


def test_percent_branch_ignores_the_usage_unit_like_2021() -> None:
    assert (
        emissions_from_percent(GERMANY, 100).amount
        == compute_emissions(GERMANY, 100, "MWh").amount
    )


@pytest.mark.parametrize("uom", ["g", "g/KWH/x", "grams/KWH"], ids=repr)
def test_percent_branch_needs_mass_over_energy(uom: str) -> None:
    with pytest.raises(ChaincodeFailure, match=r"^UNKNOWN_UOM : "):
        compute_emissions({**GERMANY, "co2_equivalent_emissions_uom": uom}, 1, "kwh")


def test_usage_unit_is_checked_in_both_branches() -> None:
    for factor in (MRO_2019, GERMANY):
        with pytest.raises(ChaincodeFailure, match=r"^UNKNOWN_UOM : 'therm'"):
            compute_emissions(factor, 1, "therm")


def test_factor_with_no_number_is_invalid_argument() -> None:
    with pytest.raises(ChaincodeFailure, match=r"^INVALID_ARGUMENT : .*net_generation"):
        compute_emissions({**MRO_2019, "net_generation": "n/a"}, 1, "kwh")


@pytest.mark.parametrize(
    ("lookup", "division"),
    [
        (
            {"state_province": "CA", "divisions": {"division_type": "NERC_REGION"}},
            ("STATE", "CA"),
        ),
        (
            {
                "state_province": "",
                "divisions": {"division_type": "NERC_REGION", "division_id": "MRO"},
            },
            ("NERC_REGION", "MRO"),
        ),
        (
            {"divisions": {"division_type": "nerc_region", "division_id": "WECC"}},
            ("nerc_region", "WECC"),
        ),
        (
            {"divisions": {"division_type": "Country", "division_id": "Germany"}},
            ("Country", "Germany"),
        ),
        (
            {"divisions": {"division_type": "COUNTRY", "division_id": "usa"}},
            ("Country", "USA"),
        ),
        ({"state_province": ""}, ("Country", "USA")),
    ],
    ids=["state-first", "nerc-region", "nerc-lowercase", "eu-country", "usa", "none"],
)
def test_choose_division(lookup: dict[str, object], division: tuple[str, str]) -> None:
    assert choose_division(lookup) == division


def test_candidate_years_are_the_year_and_five_before() -> None:
    assert candidate_years(2020) == ["2020", "2019", "2018", "2017", "2016", "2015"]


@pytest.mark.parametrize(
    ("date", "year"),
    [
        ("2020-05-07T10:10:09Z", 2020),
        ("2019-12-31", 2019),
        ("2021-01-01T00:00:00+05:00", 2021),
    ],
    ids=["utc-z", "date-only", "offset"],
)
def test_year_of(date: str, year: int) -> None:
    assert year_of(date) == year


@pytest.mark.parametrize("date", ["05/07/2020", "", "yesterday"], ids=repr)
def test_year_of_rejects_non_iso(date: str) -> None:
    with pytest.raises(ChaincodeFailure, match=r"^INVALID_DATA_FORMAT : "):
        year_of(date)
