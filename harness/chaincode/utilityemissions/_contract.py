"""``utilityemissions``: emissions records, utility lookup items and emissions factors.

Every asset is a JSON document stored under its uuid, with the 2021 chaincode's
``class`` and ``key`` fields beside the DOMAIN.md fields so that rich queries
written for the real chaincode select the same documents here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.chaincode.shim import (
    Chaincode,
    ChaincodeStub,
    Response,
    error,
    register,
    success,
)
from harness.chaincode.utilityemissions._calc import (
    INVALID_ARGUMENT,
    INVALID_NUMBER_OF_ARGUMENT,
    INVALID_QUERY_STRING,
    METHOD_NOT_SUPPORTED,
    STATE_ALREADY_EXISTS,
    STATE_NOT_FOUND,
    ChaincodeFailure,
    candidate_years,
    choose_division,
    compute_emissions,
    factor_source,
    year_of,
)

RECORD_CLASS = "org.hyperledger.blockchain-carbon-accounting.emissionsrecord"
FACTOR_CLASS = "org.hyperledger.blockchain-carbon-accounting.utilityemissionsfactoritem"
LOOKUP_CLASS = "org.hyperledger.blockchain-carbon-accounting.utilitylookuplist"

RECORD_FIELDS = (
    "uuid",
    "utilityId",
    "partyId",
    "fromDate",
    "thruDate",
    "emissionsAmount",
    "renewableEnergyUseAmount",
    "nonrenewableEnergyUseAmount",
    "energyUseUom",
    "factorSource",
    "url",
    "md5",
    "tokenId",
)
_RECORD_NUMBERS = frozenset(
    {"emissionsAmount", "renewableEnergyUseAmount", "nonrenewableEnergyUseAmount"}
)
FACTOR_FIELDS = (
    "uuid",
    "year",
    "country",
    "division_type",
    "division_id",
    "division_name",
    "net_generation",
    "net_generation_uom",
    "co2_equivalent_emissions",
    "co2_equivalent_emissions_uom",
    "source",
    "non_renewables",
    "renewables",
    "percent_of_renewables",
)
LOOKUP_FIELDS = (
    "uuid",
    "year",
    "utility_number",
    "utility_name",
    "country",
    "state_province",
    "divisions",
)

Document = dict[str, Any]
Handler = Callable[[ChaincodeStub, list[str]], bytes]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record_uuid(utility_id: str, party_id: str, from_date: str, thru_date: str) -> str:
    """An emissions record's key: hex MD5 of the four values run together."""
    joined = utility_id + party_id + from_date + thru_date
    return hashlib.md5(joined.encode(), usedforsecurity=False).hexdigest()


def _js_number(value: float) -> float | int:
    """Integral floats as integers, so the JSON reads as JavaScript would write it."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
        return int(value)
    return value


def _dump(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _b64_json(value: Any) -> str:
    return base64.b64encode(_dump(value)).decode()


# --- state helpers -----------------------------------------------------------


def _read(stub: ChaincodeStub, uuid: str, what: str) -> Document:
    raw = stub.get_state(uuid)
    if raw is None:
        raise ChaincodeFailure(STATE_NOT_FOUND, f"{what} {uuid} does not exist", 404)
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise ChaincodeFailure(STATE_NOT_FOUND, f"{uuid} is not a {what}", 404)
    return document


def _add(stub: ChaincodeStub, uuid: str, document: Document, what: str) -> bytes:
    if stub.get_state(uuid) is not None:
        raise ChaincodeFailure(
            STATE_ALREADY_EXISTS, f"{what} {uuid} already exists", 409
        )
    payload = _dump(document)
    stub.put_state(uuid, payload)
    return payload


def _update(stub: ChaincodeStub, uuid: str, document: Document, what: str) -> bytes:
    _read(stub, uuid, what)
    payload = _dump(document)
    stub.put_state(uuid, payload)
    return payload


def _query(stub: ChaincodeStub, selector: Mapping[str, Any]) -> list[Document]:
    """``[{Key, Record}]`` of a Mango selector, in key order."""
    text = json.dumps({"selector": selector})
    try:
        rows = list(stub.get_query_result(text))
    except Exception as problem:  # the peer's query error type is not the shim's
        raise ChaincodeFailure(
            INVALID_QUERY_STRING, f"query {text} failed: {problem}", 400
        ) from None
    return [{"Key": key, "Record": json.loads(value)} for key, value in rows]


def _query_date(name: str, value: str) -> str:
    """A range bound must be an ISO date: the query compares ISO strings."""
    try:
        year_of(value)
    except ChaincodeFailure:
        raise ChaincodeFailure(
            INVALID_QUERY_STRING,
            f"{name} {value!r} is not an ISO-8601 date, so no range query is formed",
            400,
        ) from None
    return value


def _float_argument(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ChaincodeFailure(
            INVALID_ARGUMENT, f"{name} {value!r} is not a number", 400
        )
    return number


# --- documents ---------------------------------------------------------------


def _factor_document(args: Sequence[str]) -> Document:
    document: Document = dict(zip(FACTOR_FIELDS, args, strict=True))
    if not document["uuid"]:
        raise ChaincodeFailure(INVALID_ARGUMENT, "uuid of the factor is empty", 400)
    document["class"] = FACTOR_CLASS
    parts = ("uuid", "year", "division_type", "division_id")
    document["key"] = ":".join(str(document[p]) for p in parts)
    return document


def _divisions(raw: str) -> dict[str, str]:
    try:
        divisions = json.loads(raw)
    except ValueError:
        divisions = None
    if not isinstance(divisions, dict) or not all(
        isinstance(divisions.get(f), str) and divisions.get(f)
        for f in ("division_type", "division_id")
    ):
        raise ChaincodeFailure(
            INVALID_ARGUMENT,
            f"divisions {raw!r} is not JSON like "
            '{"division_type": "NERC_REGION", "division_id": "MRO"}',
            400,
        )
    return {
        "division_type": divisions["division_type"],
        "division_id": divisions["division_id"],
    }


def _lookup_document(args: Sequence[str]) -> Document:
    document: Document = dict(zip(LOOKUP_FIELDS, args, strict=True))
    if not document["uuid"]:
        raise ChaincodeFailure(INVALID_ARGUMENT, "uuid of the utility is empty", 400)
    document["divisions"] = _divisions(args[6])
    document["class"] = LOOKUP_CLASS
    document["key"] = document["uuid"]
    return document


def _record_document(values: Mapping[str, Any]) -> Document:
    document: Document = {field: values.get(field) for field in RECORD_FIELDS}
    document["class"] = RECORD_CLASS
    parts = ("utilityId", "partyId", "fromDate", "thruDate")
    document["key"] = ":".join(str(document[p]) for p in parts)
    return document


# --- functions ---------------------------------------------------------------


def _find_factor(stub: ChaincodeStub, lookup: Mapping[str, Any], thru: str) -> Document:
    division_type, division_id = choose_division(lookup)
    years = candidate_years(year_of(thru))
    for year in years:
        rows = _query(
            stub,
            {
                "class": FACTOR_CLASS,
                "division_type": division_type,
                "division_id": division_id,
                "year": year,
            },
        )
        if rows:
            factor: Document = rows[0]["Record"]
            return factor
    raise ChaincodeFailure(
        STATE_NOT_FOUND,
        f"no emissions factor for {division_type} {division_id} in years "
        f"{years[-1]}..{years[0]} (utility {lookup.get('uuid')})",
        404,
    )


def record_emissions(stub: ChaincodeStub, args: list[str]) -> bytes:
    utility_id, party_id, from_date, thru_date, amount, uom, url, md5 = args
    year_of(from_date)
    usage = _float_argument("energyUseAmount", amount)
    if usage < 0:
        raise ChaincodeFailure(INVALID_ARGUMENT, f"energyUseAmount {amount} < 0", 400)
    lookup = _read(stub, utility_id, "utility")
    factor = _find_factor(stub, lookup, thru_date)
    result = compute_emissions(factor, usage, uom)
    uuid = record_uuid(utility_id, party_id, from_date, thru_date)
    record = _record_document(
        {
            "uuid": uuid,
            "utilityId": utility_id,
            "partyId": _sha256(party_id),
            "fromDate": from_date,
            "thruDate": thru_date,
            "emissionsAmount": _js_number(result.amount),
            "renewableEnergyUseAmount": _js_number(result.renewable),
            "nonrenewableEnergyUseAmount": _js_number(result.nonrenewable),
            "energyUseUom": uom,
            "factorSource": factor_source(factor),
            "url": url,
            "md5": md5,
            "tokenId": None,
        }
    )
    return _add(stub, uuid, record, "emissions record")


def update_emissions_record(stub: ChaincodeStub, args: list[str]) -> bytes:
    values: dict[str, Any] = dict(zip(RECORD_FIELDS, args, strict=True))
    for field in _RECORD_NUMBERS:
        values[field] = _js_number(_float_argument(field, values[field]))
    if values["partyId"]:
        values["partyId"] = _sha256(values["partyId"])
    if values["tokenId"] in ("", "null"):
        values["tokenId"] = None
    return _update(stub, values["uuid"], _record_document(values), "emissions record")


def update_emissions_minted_token(stub: ChaincodeStub, args: list[str]) -> bytes:
    token_id, party_id, uuids = args[0], args[1], args[2:]
    for uuid in uuids:
        record = _read(stub, uuid, "emissions record")
        record["tokenId"] = token_id
        record["partyId"] = _sha256(party_id)
        stub.put_state(uuid, _dump(record))
    return _dump({"keys": uuids})


def get_emissions_data(stub: ChaincodeStub, args: list[str]) -> bytes:
    return _dump(_read(stub, args[0], "emissions record"))


def get_valid_emissions(stub: ChaincodeStub, args: list[str]) -> bytes:
    records = [_read(stub, uuid, "emissions record") for uuid in args]
    valid = [record for record in records if record.get("tokenId") is None]
    keys = [record["uuid"] for record in valid]
    reply = {
        "keys": keys,
        "output_to_client": _b64_json(valid),
        "output_to_store": {"validUUIDs": _b64_json(keys)},
    }
    return _dump(reply)


def get_all_emissions_data(stub: ChaincodeStub, args: list[str]) -> bytes:
    utility_id, party_id = args
    selector = {
        "class": RECORD_CLASS,
        "utilityId": utility_id,
        "partyId": _sha256(party_id),
    }
    return _dump(_query(stub, selector))


def _date_range_selector(from_date: str, thru_date: str) -> dict[str, Any]:
    return {
        "class": {"$eq": RECORD_CLASS},
        "fromDate": {"$gte": _query_date("fromDate", from_date)},
        "thruDate": {"$lte": _query_date("thruDate", thru_date)},
    }


def get_all_emissions_data_by_date_range(stub: ChaincodeStub, args: list[str]) -> bytes:
    return _dump(_query(stub, _date_range_selector(args[0], args[1])))


def get_all_emissions_data_by_date_range_and_party(
    stub: ChaincodeStub, args: list[str]
) -> bytes:
    selector = _date_range_selector(args[0], args[1])
    selector["partyId"] = {"$eq": _sha256(args[2])}
    return _dump(_query(stub, selector))


def import_utility_factor(stub: ChaincodeStub, args: list[str]) -> bytes:
    document = _factor_document(args)
    return _add(stub, document["uuid"], document, "utility factor")


def update_utility_factor(stub: ChaincodeStub, args: list[str]) -> bytes:
    document = _factor_document(args)
    return _update(stub, document["uuid"], document, "utility factor")


def get_utility_factor(stub: ChaincodeStub, args: list[str]) -> bytes:
    return _dump(_read(stub, args[0], "utility factor"))


def import_utility_identifier(stub: ChaincodeStub, args: list[str]) -> bytes:
    document = _lookup_document(args)
    return _add(stub, document["uuid"], document, "utility")


def update_utility_identifier(stub: ChaincodeStub, args: list[str]) -> bytes:
    document = _lookup_document(args)
    return _update(stub, document["uuid"], document, "utility")


def get_utility_identifier(stub: ChaincodeStub, args: list[str]) -> bytes:
    return _dump(_read(stub, args[0], "utility"))


def get_all_utility_identifiers(stub: ChaincodeStub, args: list[str]) -> bytes:
    return _dump(_query(stub, {"class": LOOKUP_CLASS}))


# name -> (handler, fewest arguments, most arguments or None for no limit)
FUNCTIONS: Mapping[str, tuple[Handler, int, int | None]] = {
    "recordEmissions": (record_emissions, 8, 8),
    "updateEmissionsRecord": (update_emissions_record, 13, 13),
    "updateEmissionsMintedToken": (update_emissions_minted_token, 3, None),
    "getEmissionsData": (get_emissions_data, 1, 1),
    "getAllEmissionsData": (get_all_emissions_data, 2, 2),
    "getAllEmissionsDataByDateRange": (get_all_emissions_data_by_date_range, 2, 2),
    "getAllEmissionsDataByDateRangeAndParty": (
        get_all_emissions_data_by_date_range_and_party,
        3,
        3,
    ),
    "getValidEmissions": (get_valid_emissions, 1, None),
    "importUtilityFactor": (import_utility_factor, 14, 14),
    "updateUtilityFactor": (update_utility_factor, 14, 14),
    "getUtilityFactor": (get_utility_factor, 1, 1),
    "importUtilityIdentifier": (import_utility_identifier, 7, 7),
    "updateUtilityIdentifier": (update_utility_identifier, 7, 7),
    "getUtilityIdentifier": (get_utility_identifier, 1, 1),
    "getAllUtilityIdentifiers": (get_all_utility_identifiers, 0, 0),
}


def _check_count(function: str, count: int, low: int, high: int | None) -> None:
    if low <= count and (high is None or count <= high):
        return
    if high is None:
        wanted = f"at least {low}"
    elif low == high:
        wanted = str(low)
    else:
        wanted = f"{low} to {high}"
    raise ChaincodeFailure(
        INVALID_NUMBER_OF_ARGUMENT,
        f"{function} requires {wanted} argument(s), but got {count}",
        400,
    )


@register("utilityemissions")
class UtilityEmissions(Chaincode):
    """The utility emissions chaincode of DOMAIN.md section 1."""

    def invoke(self, stub: ChaincodeStub) -> Response:
        function, params = stub.get_function_and_parameters()
        entry = FUNCTIONS.get(function)
        if entry is None:
            return error(
                f"{METHOD_NOT_SUPPORTED} : {function!r} is not a utilityemissions "
                "function",
                400,
            )
        handler, low, high = entry
        try:
            _check_count(function, len(params), low, high)
            return success(handler(stub, params))
        except ChaincodeFailure as failure:
            return error(str(failure), failure.status)
