"""``utilityemissions`` run through the simulator's ``simulate`` and committed blocks."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from harness.chaincode.utilityemissions import FUNCTIONS, RECORD_CLASS, record_uuid

CC = "utilityemissions"
PARTY = "party-1"
PARTY_HASH = hashlib.sha256(PARTY.encode()).hexdigest()
FROM, THRU = "2019-05-01T00:00:00Z", "2019-05-31T23:59:59Z"


def seed_mro(ledger: Any, rows: Any) -> None:
    assert ledger.submit(CC, "importUtilityFactor", *rows.MRO_2019).ok
    assert ledger.submit(CC, "importUtilityIdentifier", *rows.MRO_UTILITY).ok


def record(
    ledger: Any,
    utility: str = "USA_TEST_MRO",
    *,
    party: str = PARTY,
    dates: tuple[str, str] = (FROM, THRU),
    amount: str = "100",
    uom: str = "kWh",
) -> Any:
    return ledger.submit(
        CC, "recordEmissions", utility, party, *dates, amount, uom, "url", "md5"
    )


def failure(response: Any, prefix: str) -> str:
    assert not response.ok
    assert response.message.startswith(f"{prefix} : "), response.message
    return str(response.message)


# --- lookup items and factors -----------------------------------------------


def test_import_and_get_utility_factor(ledger: Any, rows: Any) -> None:
    imported = ledger.submit(CC, "importUtilityFactor", *rows.MRO_2019)

    stored = ledger.json(CC, "getUtilityFactor", "USA_2019_NERC_REGION_MRO")

    assert imported.ok
    assert json.loads(imported.payload) == stored
    assert stored["net_generation"] == "46112136.165"
    assert stored["percent_of_renewables"] == ""
    assert stored["key"] == "USA_2019_NERC_REGION_MRO:2019:NERC_REGION:MRO"


def test_import_twice_is_state_already_exists(ledger: Any, rows: Any) -> None:
    seed_mro(ledger, rows)

    again = ledger.submit(CC, "importUtilityFactor", *rows.MRO_2019)
    utility_again = ledger.submit(CC, "importUtilityIdentifier", *rows.MRO_UTILITY)

    assert "USA_2019_NERC_REGION_MRO" in failure(again, "STATE_ALREADY_EXISTS")
    assert "USA_TEST_MRO" in failure(utility_again, "STATE_ALREADY_EXISTS")


def test_update_utility_factor_overwrites(ledger: Any, rows: Any) -> None:
    seed_mro(ledger, rows)
    changed = [*rows.MRO_2019[:6], "1", *rows.MRO_2019[7:]]

    assert ledger.submit(CC, "updateUtilityFactor", *changed).ok

    stored = ledger.json(CC, "getUtilityFactor", "USA_2019_NERC_REGION_MRO")
    assert stored["net_generation"] == "1"


@pytest.mark.parametrize(
    ("function", "which"),
    [("updateUtilityFactor", "factor"), ("updateUtilityIdentifier", "utility")],
    ids=["factor", "utility"],
)
def test_update_of_missing_asset_is_state_not_found(
    ledger: Any, rows: Any, function: str, which: str
) -> None:
    args = rows.MRO_2019 if which == "factor" else rows.MRO_UTILITY

    message = failure(ledger.submit(CC, function, *args), "STATE_NOT_FOUND")

    assert args[0] in message


def test_utility_identifiers_list_and_read(ledger: Any, rows: Any) -> None:
    seed_mro(ledger, rows)
    ledger.submit(CC, "importUtilityIdentifier", *rows.utility("B", "CA", "X", "Y"))

    listed = ledger.json(CC, "getAllUtilityIdentifiers")
    one = ledger.json(CC, "getUtilityIdentifier", "USA_TEST_MRO")

    assert [row["Key"] for row in listed] == ["B", "USA_TEST_MRO"]
    assert listed[1]["Record"] == one
    assert one["divisions"] == {"division_type": "NERC_REGION", "division_id": "MRO"}


def test_update_utility_identifier(ledger: Any, rows: Any) -> None:
    seed_mro(ledger, rows)
    moved = rows.utility("USA_TEST_MRO", "", "NERC_REGION", "WECC")

    assert ledger.submit(CC, "updateUtilityIdentifier", *moved).ok

    stored = ledger.json(CC, "getUtilityIdentifier", "USA_TEST_MRO")
    assert stored["divisions"]["division_id"] == "WECC"


@pytest.mark.parametrize(
    "divisions",
    ["not json", "[]", '{"division_type": "NERC_REGION"}', '{"division_id": "MRO"}'],
    ids=["not-json", "array", "no-id", "no-type"],
)
def test_bad_divisions_are_invalid_argument(
    ledger: Any, rows: Any, divisions: str
) -> None:
    args = [*rows.MRO_UTILITY[:6], divisions]

    message = failure(
        ledger.submit(CC, "importUtilityIdentifier", *args), "INVALID_ARGUMENT"
    )

    assert "divisions" in message


def test_missing_assets_are_state_not_found(ledger: Any) -> None:
    for function in ("getUtilityFactor", "getUtilityIdentifier", "getEmissionsData"):
        message = failure(ledger.evaluate(CC, function, "nope"), "STATE_NOT_FOUND")
        assert "nope" in message


# --- recordEmissions ----------------------------------------------------------


def test_record_emissions_check_value(ledger: Any, rows: Any) -> None:
    seed_mro(ledger, rows)

    response = record(ledger)

    stored = json.loads(response.payload)
    uuid = hashlib.md5(
        f"USA_TEST_MRO{PARTY}{FROM}{THRU}".encode(), usedforsecurity=False
    ).hexdigest()
    assert stored["uuid"] == uuid == record_uuid("USA_TEST_MRO", PARTY, FROM, THRU)
    assert f"{stored['emissionsAmount']:.10f}" == "0.1031879237"
    assert round(stored["renewableEnergyUseAmount"], 3) == 10.916
    assert round(stored["nonrenewableEnergyUseAmount"], 3) == 89.084
    assert stored["factorSource"] == "eGrid 2019 NERC_REGION MRO"
    assert stored["partyId"] == PARTY_HASH
    assert stored["tokenId"] is None
    assert (stored["fromDate"], stored["thruDate"]) == (FROM, THRU)
    assert stored["energyUseUom"] == "kWh"
    assert ledger.json(CC, "getEmissionsData", uuid) == stored


def test_record_emissions_has_add_semantics(ledger: Any, rows: Any) -> None:
    seed_mro(ledger, rows)
    first = record(ledger)

    second = record(ledger, amount="5")

    assert first.ok
    assert json.loads(first.payload)["uuid"] in failure(second, "STATE_ALREADY_EXISTS")


def test_record_emissions_for_unknown_utility(ledger: Any) -> None:
    assert "USA_EIA_0" in failure(record(ledger, "USA_EIA_0"), "STATE_NOT_FOUND")


@pytest.mark.parametrize(
    ("factor_year", "found"),
    [("2019", True), ("2017", True), ("2014", True), ("2013", False)],
    ids=["same-year", "two-years-old", "five-years-old", "six-years-old"],
)
def test_year_fallback(ledger: Any, rows: Any, factor_year: str, found: bool) -> None:
    ledger.submit(
        CC,
        "importUtilityFactor",
        *rows.factor(f"F{factor_year}", factor_year, "NERC_REGION", "MRO"),
    )
    ledger.submit(CC, "importUtilityIdentifier", *rows.MRO_UTILITY)

    response = record(ledger)

    if found:
        stored = json.loads(response.payload)
        assert stored["factorSource"] == f"eGrid {factor_year} NERC_REGION MRO"
    else:
        message = failure(response, "STATE_NOT_FOUND")
        assert "2014..2019" in message


def test_newest_factor_wins(ledger: Any, rows: Any) -> None:
    for year in ("2016", "2018"):
        ledger.submit(
            CC,
            "importUtilityFactor",
            *rows.factor(f"F{year}", year, "NERC_REGION", "MRO"),
        )
    ledger.submit(CC, "importUtilityIdentifier", *rows.MRO_UTILITY)

    stored = json.loads(record(ledger).payload)

    assert stored["factorSource"] == "eGrid 2018 NERC_REGION MRO"


def test_state_factor_before_nerc_region(ledger: Any, rows: Any) -> None:
    ledger.submit(CC, "importUtilityFactor", *rows.MRO_2019)
    ledger.submit(
        CC, "importUtilityFactor", *rows.factor("MN", "2019", "STATE", "MN", co2e="1")
    )
    ledger.submit(
        CC, "importUtilityIdentifier", *rows.utility("U", "MN", "NERC_REGION", "MRO")
    )

    stored = json.loads(record(ledger, "U").payload)

    assert stored["factorSource"] == "eGrid 2019 STATE MN"
    assert stored["emissionsAmount"] == pytest.approx(1 / 1000 * 100 / 1000)


def test_eu_country_factor_with_percentage(ledger: Any, rows: Any) -> None:
    germany = rows.factor(
        "DEU_2019", "2019", "Country", "Germany", co2e="350", co2e_uom="g/KWH"
    )
    germany[-1] = "40"
    ledger.submit(CC, "importUtilityFactor", *germany)
    ledger.submit(
        CC,
        "importUtilityIdentifier",
        *rows.utility("DE_1", "", "Country", "Germany", "Germany"),
    )

    stored = json.loads(record(ledger, "DE_1").payload)

    assert stored["emissionsAmount"] == pytest.approx(0.035)
    assert stored["renewableEnergyUseAmount"] == pytest.approx(40)
    assert stored["nonrenewableEnergyUseAmount"] == pytest.approx(60)
    assert stored["factorSource"] == "eGrid 2019 Country Germany"


def test_usa_country_factor_as_last_resort(ledger: Any, rows: Any) -> None:
    ledger.submit(
        CC, "importUtilityFactor", *rows.factor("USA", "2019", "Country", "USA")
    )
    ledger.submit(
        CC, "importUtilityIdentifier", *rows.utility("U", "", "BALANCING", "X")
    )

    stored = json.loads(record(ledger, "U").payload)

    assert stored["factorSource"] == "eGrid 2019 Country USA"
    assert stored["emissionsAmount"] == pytest.approx(0.05)
    assert stored["renewableEnergyUseAmount"] == 25


@pytest.mark.parametrize(
    ("change", "prefix", "named"),
    [
        ({"uom": "therms"}, "UNKNOWN_UOM", "therms"),
        ({"dates": (FROM, "31/05/2019")}, "INVALID_DATA_FORMAT", "31/05/2019"),
        ({"dates": ("May", THRU)}, "INVALID_DATA_FORMAT", "May"),
        ({"amount": "lots"}, "INVALID_ARGUMENT", "energyUseAmount"),
        ({"amount": "nan"}, "INVALID_ARGUMENT", "energyUseAmount"),
        ({"amount": "-1"}, "INVALID_ARGUMENT", "energyUseAmount"),
    ],
    ids=[
        "unknown-uom",
        "bad-thru-date",
        "bad-from-date",
        "amount-text",
        "nan",
        "negative",
    ],
)
def test_record_emissions_refusals(
    ledger: Any, rows: Any, change: dict[str, Any], prefix: str, named: str
) -> None:
    seed_mro(ledger, rows)

    message = failure(record(ledger, **change), prefix)

    assert named in message


# --- argument counts and methods -------------------------------------------------


def _wrong_counts() -> list[tuple[str, int]]:
    cases = []
    for function, (_, low, high) in FUNCTIONS.items():
        if low > 0:
            cases.append((function, low - 1))
        if high is not None:
            cases.append((function, high + 1))
    return cases


@pytest.mark.parametrize(
    ("function", "count"),
    _wrong_counts(),
    ids=[f"{f}-{n}-args" for f, n in _wrong_counts()],
)
def test_wrong_argument_count(ledger: Any, function: str, count: int) -> None:
    response = ledger.evaluate(CC, function, *["x"] * count)

    message = failure(response, "INVALID_NUMBER_OF_ARGUMENT")
    assert function in message
    assert f"got {count}" in message


def test_unknown_method(ledger: Any) -> None:
    message = failure(ledger.evaluate(CC, "deleteEverything"), "METHOD_NOT_SUPPORTED")

    assert "deleteEverything" in message


# --- lists -----------------------------------------------------------------------


def _three_records(ledger: Any, rows: Any) -> list[str]:
    seed_mro(ledger, rows)
    spans = [
        ("2019-01-01T00:00:00Z", "2019-01-31T00:00:00Z", PARTY),
        ("2019-02-01T00:00:00Z", "2019-02-28T00:00:00Z", PARTY),
        ("2019-02-01T00:00:00Z", "2019-02-28T00:00:00Z", "party-2"),
    ]
    uuids = []
    for start, end, party in spans:
        response = record(ledger, party=party, dates=(start, end))
        uuids.append(json.loads(response.payload)["uuid"])
    return uuids


def test_get_all_emissions_data_by_utility_and_party(ledger: Any, rows: Any) -> None:
    uuids = _three_records(ledger, rows)

    rows_ = ledger.json(CC, "getAllEmissionsData", "USA_TEST_MRO", PARTY)

    assert sorted(row["Key"] for row in rows_) == sorted(uuids[:2])
    assert all(set(row) == {"Key", "Record"} for row in rows_)
    assert all(row["Record"]["class"] == RECORD_CLASS for row in rows_)


def test_date_range_is_inclusive_iso_compare(ledger: Any, rows: Any) -> None:
    uuids = _three_records(ledger, rows)

    february = ledger.json(
        CC,
        "getAllEmissionsDataByDateRange",
        "2019-02-01T00:00:00Z",
        "2019-02-28T00:00:00Z",
    )
    both = ledger.json(
        CC,
        "getAllEmissionsDataByDateRange",
        "2019-01-01T00:00:00Z",
        "2019-12-31T00:00:00Z",
    )

    assert sorted(row["Key"] for row in february) == sorted(uuids[1:])
    assert len(both) == 3


def test_date_range_and_party(ledger: Any, rows: Any) -> None:
    uuids = _three_records(ledger, rows)

    found = ledger.json(
        CC,
        "getAllEmissionsDataByDateRangeAndParty",
        "2019-02-01T00:00:00Z",
        "2019-03-01T00:00:00Z",
        "party-2",
    )

    assert [row["Key"] for row in found] == [uuids[2]]


@pytest.mark.parametrize(
    "args",
    [("2019-02-01", "soon"), ('"}', "2019-03-01")],
    ids=["bad-thru", "quote-injection"],
)
def test_date_range_with_non_dates_is_invalid_query_string(
    ledger: Any, args: tuple[str, str]
) -> None:
    for function, extra in (
        ("getAllEmissionsDataByDateRange", ()),
        ("getAllEmissionsDataByDateRangeAndParty", (PARTY,)),
    ):
        response = ledger.evaluate(CC, function, *args, *extra)
        failure(response, "INVALID_QUERY_STRING")


# --- tokens, valid emissions, updates --------------------------------------------


def test_update_emissions_minted_token_sets_every_uuid(ledger: Any, rows: Any) -> None:
    uuids = _three_records(ledger, rows)

    response = ledger.submit(
        CC, "updateEmissionsMintedToken", "0xabc:1", "party-9", *uuids[:2]
    )

    assert json.loads(response.payload) == {"keys": uuids[:2]}
    first = ledger.json(CC, "getEmissionsData", uuids[0])
    third = ledger.json(CC, "getEmissionsData", uuids[2])
    assert first["tokenId"] == "0xabc:1"
    assert first["partyId"] == hashlib.sha256(b"party-9").hexdigest()
    assert third["tokenId"] is None


def test_update_emissions_minted_token_one_missing_fails_all(
    ledger: Any, rows: Any
) -> None:
    uuids = _three_records(ledger, rows)

    response = ledger.submit(
        CC, "updateEmissionsMintedToken", "0xabc:1", PARTY, uuids[0], "missing"
    )

    assert "missing" in failure(response, "STATE_NOT_FOUND")
    assert ledger.json(CC, "getEmissionsData", uuids[0])["tokenId"] is None


def test_get_valid_emissions_reply_shape(ledger: Any, rows: Any) -> None:
    uuids = _three_records(ledger, rows)
    ledger.submit(CC, "updateEmissionsMintedToken", "0xabc:1", PARTY, uuids[1])

    reply = ledger.json(CC, "getValidEmissions", *uuids)

    assert reply["keys"] == [uuids[0], uuids[2]]
    to_client = json.loads(base64.b64decode(reply["output_to_client"]))
    assert [r["uuid"] for r in to_client] == [uuids[0], uuids[2]]
    stored = json.loads(base64.b64decode(reply["output_to_store"]["validUUIDs"]))
    assert stored == [uuids[0], uuids[2]]


def test_get_valid_emissions_missing_uuid(ledger: Any) -> None:
    message = failure(
        ledger.evaluate(CC, "getValidEmissions", "gone"), "STATE_NOT_FOUND"
    )

    assert "gone" in message


def _update_args(uuid: str, token: str = "") -> list[str]:
    return [
        uuid,
        "USA_TEST_MRO",
        PARTY,
        FROM,
        THRU,
        "2.5",
        "40",
        "60",
        "kWh",
        "manual",
        "url",
        "md5",
        token,
    ]


def test_update_emissions_record_overwrites(ledger: Any, rows: Any) -> None:
    seed_mro(ledger, rows)
    uuid = json.loads(record(ledger).payload)["uuid"]

    assert ledger.submit(CC, "updateEmissionsRecord", *_update_args(uuid)).ok

    stored = ledger.json(CC, "getEmissionsData", uuid)
    assert stored["emissionsAmount"] == 2.5
    assert stored["renewableEnergyUseAmount"] == 40
    assert stored["partyId"] == PARTY_HASH
    assert stored["tokenId"] is None
    assert stored["factorSource"] == "manual"


def test_update_emissions_record_refusals(ledger: Any, rows: Any) -> None:
    seed_mro(ledger, rows)
    uuid = json.loads(record(ledger).payload)["uuid"]
    bad_number = _update_args(uuid)
    bad_number[5] = "two"

    missing = ledger.submit(CC, "updateEmissionsRecord", *_update_args("nope"))
    not_number = ledger.submit(CC, "updateEmissionsRecord", *bad_number)

    assert "nope" in failure(missing, "STATE_NOT_FOUND")
    assert "emissionsAmount" in failure(not_number, "INVALID_ARGUMENT")
