"""What an audit mints: the token's quantity, period and metadata from the records
(DOMAIN.md section 3, "Minting audited emissions from records")."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

DESCRIPTION = "Audited Utility Emissions"
Record = Mapping[str, Any]


@dataclass(frozen=True)
class MintPlan:
    """The arguments of one ``issue()`` for a set of emissions records."""

    quantity: int
    from_date: int
    thru_date: int
    metadata: str
    manifest: str
    description: str = DESCRIPTION


def unix_seconds(iso: str) -> int:
    """An ISO-8601 date as the records carry it (``2020-05-07T10:10:09Z``)."""
    try:
        moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"record date {iso!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def plan_mint(records: Sequence[Record], org: str) -> MintPlan:
    """Quantity = sum of round(emissionsAmount, 3) x 1000; period = the records'
    earliest and latest dates; metadata and manifest name what was audited."""
    if not records:
        raise ConfigError("nothing to mint: no emissions records")
    quantity = round(sum(round(float(r["emissionsAmount"]), 3) for r in records) * 1000)
    metadata = {
        "org": org,
        "type": "Utility Emissions",
        "partyId": sorted({str(r["partyId"]) for r in records}),
        "renewableEnergyUseAmount": _total(records, "renewableEnergyUseAmount"),
        "nonrenewableEnergyUseAmount": _total(records, "nonrenewableEnergyUseAmount"),
        "utilityIds": sorted({str(r["utilityId"]) for r in records}),
        "factorSources": sorted({str(r.get("factorSource") or "") for r in records}),
        "urls": [str(r.get("url") or "") for r in records],
        "md5s": [str(r.get("md5") or "") for r in records],
    }
    manifest = {"uuids": [str(r["uuid"]) for r in records]}
    return MintPlan(
        quantity=quantity,
        from_date=min(unix_seconds(str(r["fromDate"])) for r in records),
        thru_date=max(unix_seconds(str(r["thruDate"])) for r in records),
        metadata=json.dumps(metadata, sort_keys=True, separators=(",", ":")),
        manifest=json.dumps(manifest, separators=(",", ":")),
    )


def _total(records: Sequence[Record], field: str) -> float:
    return round(sum(float(r.get(field) or 0) for r in records), 6)
