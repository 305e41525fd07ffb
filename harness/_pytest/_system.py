"""The whole carbon accounting system as one fixture value."""

from __future__ import annotations

import json
import uuid as uuid_lib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.runs import RunDir

if TYPE_CHECKING:
    from harness.ethereum import Chain, TokenClient
    from harness.fabric.client import FabricClient
    from harness.requestmanager import RequestManager

CHANNEL = "utilityemissionchannel"
DATA_CC = "utilityemissions"


@dataclass
class CarbonSystem:
    """A Fabric network running the reference chaincodes (seeded with the fixture
    utilities and factors), an eth-tester chain with the token contract and its
    roles, and a Fabric client of the first peer org's first user.

    Everything a test changes is undone after it: world state on every peer and
    the chain are put back. ``network`` is a ``SimNetwork`` in process, or an
    ``AttachedNetwork`` with ``--harness-keep`` / ``--harness-reuse``.
    """

    network: Any
    fabric: FabricClient
    chain: Chain
    token: TokenClient
    run: RunDir
    journal: Path
    client_factory: Callable[[str, str], FabricClient] = field(repr=False)
    baseline_tokens: int = 0

    def client(self, org: str, user: str) -> FabricClient:
        """A Fabric client of another user of the network."""
        return self.client_factory(org, user)

    def request_manager(self, **options: Any) -> RequestManager:
        """A Request Manager on this system, journaling into this test's folder."""
        from harness.requestmanager import RequestManager

        options.setdefault("journal", self.journal)
        return RequestManager(self.fabric, self.token, **options)

    def record_emissions(
        self,
        count: int = 1,
        *,
        party: str | None = None,
        utility: str = "USA_EIA_11208",
    ) -> tuple[str, list[str]]:
        """``count`` emissions records (one per month of 2019) of ``party`` (a new
        one by default); ``(party, uuids)``."""
        party = party or f"party-{uuid_lib.uuid4().hex[:10]}"
        uuids = []
        for month in range(1, count + 1):
            args = [
                utility,
                party,
                f"2019-{month:02d}-01T00:00:00Z",
                f"2019-{month:02d}-28T23:59:59Z",
                str(100 * month),
                "kWh",
                f"https://bills/{party}/{month}",
                "md5",
            ]
            done = self.fabric.submit(CHANNEL, DATA_CC, "recordEmissions", args)
            uuids.append(json.loads(done.raise_for_code().payload)["uuid"])
        return party, uuids

    def emissions(self, uuid: str) -> dict[str, Any] | None:
        """An emissions record as the chaincode returns it; None when absent."""
        from harness.fabric.client import ChaincodeError

        try:
            raw = self.fabric.evaluate(CHANNEL, DATA_CC, "getEmissionsData", [uuid])
        except ChaincodeError as exc:
            if "STATE_NOT_FOUND" in str(exc):
                return None
            raise
        found: dict[str, Any] = json.loads(raw)
        return found

    def tokens_minted(self) -> int:
        """Tokens minted since this test began."""
        return self.token.token_count() - self.baseline_tokens
