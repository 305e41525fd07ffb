"""Conformance of the reference chaincodes through the client path: every call is a
signed proposal, endorsed by both orgs' peers, ordered by Raft and validated."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from harness.chaincode.datalock import lock_key
from harness.chaincode.seed import (
    SeedProgress,
    SeedReport,
    load_fixtures,
    read_fixtures,
)
from harness.fabric.client import EndorsementError, FabricClient, SubmitResult
from harness.fabric.sim import SimNetwork

CH, UE, DL = "utilityemissionchannel", "utilityemissions", "datalock"
Fresh = Callable[[str], str]


def submit(client: FabricClient, cc: str, function: str, *args: str) -> SubmitResult:
    return client.submit(CH, cc, function, list(args)).raise_for_code()


def query(client: FabricClient, cc: str, function: str, *args: str) -> Any:
    return json.loads(client.evaluate(CH, cc, function, list(args)))


def record(
    client: FabricClient,
    party: str,
    utility: str = "USA_TEST_MRO",
    dates: tuple[str, str] = ("2019-06-01T00:00:00Z", "2019-06-30T00:00:00Z"),
) -> dict[str, Any]:
    result = submit(
        client, UE, "recordEmissions", utility, party, *dates, "100", "kWh", "u", "m"
    )
    stored: dict[str, Any] = json.loads(result.payload)
    return stored


def factor_args(uuid: str, year: str, region: str) -> list[str]:
    head = [uuid, year, "USA", "NERC_REGION", region, region, "1000", "MWH"]
    return [*head, "500", "tons", "test", "750", "250", ""]


def utility_args(uuid: str, region: str) -> list[str]:
    divisions = json.dumps({"division_type": "NERC_REGION", "division_id": region})
    return [uuid, "2019", "0", uuid, "USA", "", divisions]


# --- the loader ------------------------------------------------------------------


def test_seed_through_the_client_then_again_skips_everything(
    org1: FabricClient, seeded: SeedReport
) -> None:
    seen: list[SeedProgress] = []

    again = load_fixtures(org1, progress=seen.append)

    total = len(read_fixtures().rows)
    assert len(seeded.imported) == total
    assert again.imported == []
    assert len(again.skipped) == total
    assert [p.done for p in seen] == list(range(1, total + 1))
    assert {p.outcome for p in seen} == {"skipped"}


def test_transactions_are_endorsed_by_both_orgs(
    org1: FabricClient, network: SimNetwork, fresh: Fresh
) -> None:
    name = fresh("USA_EIA")

    prepared = org1.endorse(CH, UE, "importUtilityIdentifier", utility_args(name, "X"))
    result = org1.submit_prepared(prepared)

    assert sorted(network.peers[p].msp_id for p in prepared.endorsers) == [
        "Org1MSP",
        "Org2MSP",
    ]
    assert result.code_name == "VALID"
    assert query(org1, UE, "getUtilityIdentifier", name)["uuid"] == name


# --- utilityemissions ------------------------------------------------------------


def test_check_value(org1: FabricClient, seeded: SeedReport, fresh: Fresh) -> None:
    stored = record(org1, fresh("party"))

    assert f"{stored['emissionsAmount']:.10f}" == "0.1031879237"
    assert round(stored["renewableEnergyUseAmount"], 3) == 10.916
    assert round(stored["nonrenewableEnergyUseAmount"], 3) == 89.084
    assert stored["factorSource"] == "eGrid 2019 NERC_REGION MRO"
    assert query(org1, UE, "getEmissionsData", stored["uuid"]) == stored


def test_eu_factor_with_renewable_percentage(
    org1: FabricClient, seeded: SeedReport, fresh: Fresh
) -> None:
    stored = record(org1, fresh("party"), "DEU_TEST_1")

    assert stored["factorSource"] == "eGrid 2019 Country Germany"
    assert stored["emissionsAmount"] == pytest.approx(350 * 100 / 1e6)
    assert stored["renewableEnergyUseAmount"] == pytest.approx(40.8)


def test_state_factor_from_fixtures(
    org1: FabricClient, seeded: SeedReport, fresh: Fresh
) -> None:
    stored = record(
        org1,
        fresh("party"),
        "USA_EIA_11208",
        ("2020-01-01T00:00:00Z", "2020-01-31T00:00:00Z"),
    )

    assert stored["factorSource"] == "eGrid 2019 STATE CA"
    assert stored["emissionsAmount"] == pytest.approx(44100000 / 200500000 * 0.1)


@pytest.mark.parametrize(
    ("factor_year", "found"),
    [("2014", True), ("2013", False)],
    ids=["five-years-old", "six-years-old"],
)
def test_year_fallback(
    org1: FabricClient, fresh: Fresh, factor_year: str, found: bool
) -> None:
    region, utility = fresh("REGION"), fresh("UTILITY")
    submit(
        org1, UE, "importUtilityFactor", *factor_args(f"{region}F", factor_year, region)
    )
    submit(org1, UE, "importUtilityIdentifier", *utility_args(utility, region))

    if found:
        stored = record(org1, fresh("party"), utility)
        assert stored["factorSource"] == f"eGrid {factor_year} NERC_REGION {region}"
    else:
        with pytest.raises(EndorsementError, match=r"STATE_NOT_FOUND : .*2014\.\.2019"):
            record(org1, fresh("party"), utility)


def test_lists_tokens_and_updates(
    org1: FabricClient, org2: FabricClient, seeded: SeedReport, fresh: Fresh
) -> None:
    party = fresh("party")
    first = record(org1, party)
    second = record(org2, party, dates=("2019-07-01T00:00:00Z", "2019-07-31T00:00:00Z"))

    by_party = query(org2, UE, "getAllEmissionsData", "USA_TEST_MRO", party)
    in_july = query(
        org1,
        UE,
        "getAllEmissionsDataByDateRangeAndParty",
        "2019-07-01T00:00:00Z",
        "2019-07-31T23:59:59Z",
        party,
    )
    in_range = query(
        org1,
        UE,
        "getAllEmissionsDataByDateRange",
        "2019-06-01T00:00:00Z",
        "2019-07-31T23:59:59Z",
    )
    submit(org1, UE, "updateEmissionsMintedToken", "0xC:1", party, first["uuid"])
    valid = query(org2, UE, "getValidEmissions", first["uuid"], second["uuid"])

    assert sorted(r["Key"] for r in by_party) == sorted([first["uuid"], second["uuid"]])
    assert [r["Key"] for r in in_july] == [second["uuid"]]
    assert {first["uuid"], second["uuid"]} <= {r["Key"] for r in in_range}
    assert valid["keys"] == [second["uuid"]]
    decoded = json.loads(base64.b64decode(valid["output_to_client"]))
    assert [r["uuid"] for r in decoded] == [second["uuid"]]
    assert query(org1, UE, "getEmissionsData", first["uuid"])["tokenId"] == "0xC:1"


def test_updates_of_factor_identifier_and_record(
    org1: FabricClient, seeded: SeedReport, fresh: Fresh
) -> None:
    region, utility, party = fresh("REGION"), fresh("UTILITY"), fresh("party")
    args = factor_args(f"{region}F", "2019", region)
    submit(org1, UE, "importUtilityFactor", *args)
    submit(org1, UE, "importUtilityIdentifier", *utility_args(utility, "MRO"))
    stored = record(org1, party, utility)

    submit(org1, UE, "updateUtilityFactor", *args[:6], "2000", *args[7:])
    submit(org1, UE, "updateUtilityIdentifier", *utility_args(utility, region))
    submit(
        org1,
        UE,
        "updateEmissionsRecord",
        stored["uuid"],
        utility,
        party,
        stored["fromDate"],
        stored["thruDate"],
        "7",
        "1",
        "2",
        "kWh",
        "manual",
        "u",
        "m",
        "",
    )

    assert query(org1, UE, "getUtilityFactor", f"{region}F")["net_generation"] == "2000"
    moved = query(org1, UE, "getUtilityIdentifier", utility)
    assert moved["divisions"]["division_id"] == region
    assert utility in {r["Key"] for r in query(org1, UE, "getAllUtilityIdentifiers")}
    assert query(org1, UE, "getEmissionsData", stored["uuid"])["emissionsAmount"] == 7


def _record_call(thru: str, amount: str, uom: str) -> tuple[str, ...]:
    fixed = ("recordEmissions", "USA_TEST_MRO", "p", "2019-01-01")
    return (*fixed, thru, amount, uom, "u", "m")


@pytest.mark.parametrize(
    ("prefix", "call"),
    [
        ("STATE_NOT_FOUND", ("getUtilityFactor", "no-such-factor")),
        (
            "STATE_ALREADY_EXISTS",
            ("importUtilityIdentifier", *utility_args("USA_TEST_MRO", "MRO")),
        ),
        ("INVALID_QUERY_STRING", ("getAllEmissionsDataByDateRange", "then", "now")),
        ("UNKNOWN_UOM", _record_call("2019-01-02", "1", "BTU")),
        ("INVALID_DATA_FORMAT", _record_call("1/2/2019", "1", "kWh")),
        ("INVALID_NUMBER_OF_ARGUMENT", ("getEmissionsData",)),
        ("INVALID_ARGUMENT", _record_call("2019-01-02", "many", "kWh")),
        ("METHOD_NOT_SUPPORTED", ("dropAllRecords",)),
    ],
    ids=lambda value: value if isinstance(value, str) else value[0],
)
def test_error_prefix_through_the_client(
    org1: FabricClient, seeded: SeedReport, prefix: str, call: tuple[str, ...]
) -> None:
    function, *args = call

    with pytest.raises(EndorsementError) as refused:
        org1.submit(CH, UE, function, args)

    assert f"{prefix} : " in str(refused.value)
    assert refused.value.status >= 400


# --- datalock --------------------------------------------------------------------


def lock_stage(tx_id: str, keys: list[str]) -> str:
    call = {UE: {"keys": keys, "params": ["getValidEmissions", *keys]}}
    return json.dumps({"tx_id": tx_id, "name": "GetValidEmissions", "data_locks": call})


def free_stage(tx_id: str, keys: list[str]) -> str:
    params = ["updateEmissionsMintedToken", "0xC:9", "party", *keys]
    call = {UE: {"keys": keys, "params": params}}
    stage = {"tx_id": tx_id, "name": "MintedTokenUpdate", "data_free": call}
    return json.dumps({**stage, "is_last": True})


def refused(client: FabricClient, function: str, argument: str, text: str) -> None:
    with pytest.raises(EndorsementError) as refusal:
        client.submit(CH, DL, function, [argument])
    assert text in str(refusal.value)


def holder(network: SimNetwork, key: str) -> str | None:
    entry = network.peers["peer0.org1"].ledger(CH).state.get(DL, lock_key(UE, key))
    return entry.value.decode() if entry is not None else None


def test_datalock_lifecycle(
    org1: FabricClient, network: SimNetwork, seeded: SeedReport, fresh: Fresh
) -> None:
    tx = fresh("tx")
    keys = [record(org1, fresh("party"))["uuid"] for _ in range(2)]

    started = json.loads(submit(org1, DL, "startTransitionProcess", tx).payload)
    refused(org1, "startTransitionProcess", tx, "found at PROCESSING")
    submit(org1, DL, "stageUpdate", lock_stage(tx, keys))
    ended = json.loads(submit(org1, DL, "endTransitionProcess", tx).payload)
    refused(org1, "endTransitionProcess", tx, "found at NOT-PROCESSING")
    refused(org1, "stageUpdate", free_stage(tx, keys), "found at NOT-PROCESSING")
    held = [holder(network, key) for key in keys]
    resumed = json.loads(submit(org1, DL, "startTransitionProcess", tx).payload)
    submit(org1, DL, "stageUpdate", free_stage(tx, keys))
    finished = query(org1, DL, "getTxDetails", tx)
    submit(org1, DL, "endTransitionProcess", tx)  # FINISHED: a no-op

    assert started["state"] == "PROCESSING"
    assert ended["state"] == "NOT-PROCESSING"
    assert held == [tx, tx]
    assert resumed["current_stage"] == "GetValidEmissions"
    assert finished["state"] == "FINISHED"
    assert query(org1, DL, "getTxDetails", tx) == finished
    assert [holder(network, key) for key in keys] == [None, None]
    assert query(org1, UE, "getEmissionsData", keys[0])["tokenId"] == "0xC:9"
    refused(org1, "startTransitionProcess", tx, "already at finished state")
    refused(org1, "stageUpdate", lock_stage(tx, keys), "found at FINISHED")


@pytest.mark.parametrize(
    ("function", "argument", "text"),
    [
        ("endTransitionProcess", "ghost-tx", "not found"),
        ("getTxDetails", "ghost-tx", "not found"),
        ("stageUpdate", lock_stage("ghost-tx", ["k"]), "not found"),
        ("stageUpdate", "{not json", "not JSON"),
        ("startTransitionProcess", "a::b", "'::'"),
    ],
    ids=["end-unknown", "details-unknown", "stage-unknown", "stage-not-json", "bad-id"],
)
def test_datalock_refusals(
    org1: FabricClient, function: str, argument: str, text: str
) -> None:
    refused(org1, function, argument, text)


def test_lock_conflicts_and_foreign_free(
    org1: FabricClient, org2: FabricClient, seeded: SeedReport, fresh: Fresh
) -> None:
    first, second = fresh("tx"), fresh("tx")
    keys = [record(org1, fresh("party"))["uuid"] for _ in range(2)]
    submit(org1, DL, "startTransitionProcess", first)
    submit(org2, DL, "startTransitionProcess", second)
    submit(org1, DL, "stageUpdate", lock_stage(first, keys[:1]))

    refused(org2, "stageUpdate", lock_stage(second, keys), "already locked")
    refused(org2, "stageUpdate", free_stage(second, keys[:1]), "data not locked")


def test_two_clients_lock_overlapping_keys_in_one_round(
    org1: FabricClient,
    org2: FabricClient,
    network: SimNetwork,
    seeded: SeedReport,
    fresh: Fresh,
) -> None:
    first, second = fresh("tx"), fresh("tx")
    keys = [record(org1, fresh("party"))["uuid"] for _ in range(3)]
    submit(org1, DL, "startTransitionProcess", first)
    submit(org2, DL, "startTransitionProcess", second)

    one = org1.endorse(CH, DL, "stageUpdate", [lock_stage(first, keys[:2])])
    two = org2.endorse(CH, DL, "stageUpdate", [lock_stage(second, keys[1:])])
    org1.broadcast(one)
    org2.broadcast(two)
    results = [org1.wait_for_commit(one), org2.wait_for_commit(two)]

    codes = sorted(result.code_name for result in results)
    assert codes == ["MVCC_READ_CONFLICT", "VALID"]
    winner = first if results[0].valid else second
    holders = {holder(network, key) for key in keys[1:2]}
    assert holders == {winner}


def test_two_clients_lock_at_the_same_moment(
    org1: FabricClient,
    org2: FabricClient,
    network: SimNetwork,
    seeded: SeedReport,
    fresh: Fresh,
) -> None:
    txs = [fresh("tx"), fresh("tx")]
    keys = [record(org1, fresh("party"))["uuid"] for _ in range(2)]
    clients = [org1, org2]
    for client, tx in zip(clients, txs, strict=True):
        submit(client, DL, "startTransitionProcess", tx)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def lock(client: FabricClient, tx: str) -> None:
        barrier.wait()
        try:
            result = client.submit(CH, DL, "stageUpdate", [lock_stage(tx, keys)])
            outcomes[tx] = result.code_name
        except EndorsementError as refusal:
            outcomes[tx] = (
                "already locked" if "already locked" in str(refusal) else str(refusal)
            )

    threads = [
        threading.Thread(target=lock, args=(c, t))
        for c, t in zip(clients, txs, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes.values()) in (
        ["MVCC_READ_CONFLICT", "VALID"],
        ["VALID", "already locked"],
    )
    winner = next(tx for tx, outcome in outcomes.items() if outcome == "VALID")
    assert [holder(network, key) for key in keys] == [winner, winner]
