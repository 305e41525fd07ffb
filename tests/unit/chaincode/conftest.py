"""A one-channel ledger that runs the reference chaincodes through ``simulate``.

Each call is simulated against committed state and, when it succeeds, committed in
a block of its own; ``race`` simulates several calls against the same state and
commits them in one block, as an orderer would.
"""

from __future__ import annotations

import datetime
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.chaincode import Chaincode, Response, lookup
from harness.fabric.sim import TxContext, WorldState, commit_block, simulate
from harness.fabric.sim._ledger import VALID

CHANNEL = "utilityemissionchannel"
_tx_numbers = itertools.count()


def context() -> TxContext:
    number = next(_tx_numbers)
    return TxContext(
        tx_id=f"{number:064x}",
        channel_id=CHANNEL,
        creator=b"Org1MSP user1",
        timestamp=datetime.datetime(2021, 5, 7, 10, 10, 9, tzinfo=datetime.UTC),
    )


@dataclass
class Ledger:
    state: WorldState = field(default_factory=WorldState)
    chaincodes: dict[str, Chaincode] = field(
        default_factory=lambda: {
            "utilityemissions": lookup("utilityemissions"),
            "datalock": lookup("datalock"),
        }
    )

    def evaluate(self, chaincode: str, function: str, *args: str) -> Response:
        """Simulate only: what a query returns, nothing committed."""
        call = [function.encode(), *(a.encode() for a in args)]
        return simulate(
            self.state, self.chaincodes, chaincode, call, context()
        ).response

    def submit(self, chaincode: str, function: str, *args: str) -> Response:
        """Simulate and, if the chaincode succeeded, commit in a block of its own."""
        return self.race((chaincode, function, *args))[0][0]

    def race(self, *calls: tuple[str, ...]) -> list[tuple[Response, int | None]]:
        """Simulate every call against the same state, then order them in one block.

        Returns each call's response and validation code (None: not submitted,
        because the chaincode refused it at endorsement).
        """
        results = []
        for chaincode, function, *args in calls:
            call = [function.encode(), *(a.encode() for a in args)]
            results.append(
                simulate(self.state, self.chaincodes, chaincode, call, context())
            )
        endorsed = [r for r in results if r.response.ok]
        codes = iter(
            commit_block(
                self.state,
                self.state.height,
                [r.rwset for r in endorsed],
                [VALID] * len(endorsed),
            )
        )
        return [(r.response, next(codes) if r.response.ok else None) for r in results]

    def json(self, chaincode: str, function: str, *args: str) -> Any:
        response = self.evaluate(chaincode, function, *args)
        assert response.ok, response.message
        return json.loads(response.payload)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


# --- rows ------------------------------------------------------------------------


class Rows:
    """Argument lists for importUtilityFactor / importUtilityIdentifier."""

    MRO_2019: list[str]
    MRO_UTILITY: list[str]

    @staticmethod
    def factor(*args: str, **options: str) -> list[str]:
        return factor_row(*args, **options)

    @staticmethod
    def utility(*args: str) -> list[str]:
        return utility_row(*args)


@pytest.fixture
def rows() -> type[Rows]:
    return Rows


MRO_2019 = [
    "USA_2019_NERC_REGION_MRO",
    "2019",
    "USA",
    "NERC_REGION",
    "MRO",
    "Midwest Reliability Organization",
    "46112136.165",
    "MWH",
    "47582155.875",
    "tons",
    "test row",
    "41078452.268",
    "5033683.71",
    "",
]
MRO_UTILITY = [
    "USA_TEST_MRO",
    "2019",
    "99999",
    "check-value utility",
    "USA",
    "",
    json.dumps({"division_type": "NERC_REGION", "division_id": "MRO"}),
]


def factor_row(
    uuid: str,
    year: str,
    division_type: str,
    division_id: str,
    *,
    co2e: str = "500",
    co2e_uom: str = "tons",
    generation: str = "1000",
    percent: str = "",
    renewables: str = "250",
    non_renewables: str = "750",
) -> list[str]:
    return [
        uuid,
        year,
        "USA" if not percent else division_id,
        division_type,
        division_id,
        f"{division_id} test division",
        generation,
        "MWH",
        co2e,
        co2e_uom,
        "test row",
        non_renewables,
        renewables,
        percent,
    ]


def utility_row(
    uuid: str, state: str, division_type: str, division_id: str, country: str = "USA"
) -> list[str]:
    divisions = {"division_type": division_type, "division_id": division_id}
    return [uuid, "2019", "1", f"{uuid} name", country, state, json.dumps(divisions)]


Rows.MRO_2019 = MRO_2019
Rows.MRO_UTILITY = MRO_UTILITY
