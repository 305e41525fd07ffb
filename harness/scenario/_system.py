"""The whole system a scenario runs on, and what the checks read from its ledgers.

Checks never trust the orchestrator's own account: they read the peers' world
state, the blocks' validation codes and the token contract.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.runs import RunDir

log = logging.getLogger(__name__)

CHANNEL = "utilityemissionchannel"
DATA_CC = "utilityemissions"
LOCK_CC = "datalock"


AUDITED_EMISSIONS = 3


def auditor_names(count: int) -> tuple[str, ...]:
    """``emissions_auditor`` and, for more than one, ``emissions_auditor_2`` ..."""
    return (
        "emissions_auditor",
        *(f"emissions_auditor_{n}" for n in range(2, count + 1)),
    )


@dataclass(frozen=True)
class MintedToken:
    token_id: int
    ref: str
    uuids: tuple[str, ...]
    quantity: int
    issuee: str


@dataclass
class System:
    """Fabric network, Ethereum chain, token contract and the Fabric client."""

    network: Any
    fabric: Any
    chain: Any
    token: Any
    baseline_tokens: int
    closers: list[Any] = field(default_factory=list)

    @classmethod
    def start(cls, network_spec: str, run: RunDir, *, auditors: int = 1) -> System:
        """The network of ``network_spec`` in ``run``, eth-tester with the token
        contract and its roles; ``auditors`` emissions-auditor accounts in all
        (``emissions_auditor``, ``emissions_auditor_2``, ...)."""
        from harness.ethereum import DEFAULT_ACCOUNT_NAMES, Chain, TokenClient
        from harness.fabric.client import FabricClient
        from harness.fabric.sim import SimNetwork
        from harness.spec import load_spec

        spec = load_spec(network_spec)
        network = SimNetwork.start(spec, run)
        try:
            org = spec.peer_orgs[0].name
            user = next(u.name for u in spec.users if spec.org(u.org).name == org)
            fabric = FabricClient.in_process(network, network.user(org, user))
            extra = auditor_names(auditors)[1:]
            chain = Chain.eth_tester((*DEFAULT_ACCOUNT_NAMES, *extra))
            token = TokenClient.deploy(chain)
            token.register_default_roles()
            for name in extra:
                token.register_dealer(name, AUDITED_EMISSIONS)
        except BaseException:
            network.stop()
            raise
        return cls(network, fabric, chain, token, token.token_count(), [chain, network])

    def stop(self) -> None:
        for part in self.closers:
            part.close() if hasattr(part, "close") else part.stop()

    # --- what checks read -----------------------------------------------------------

    def ledger(self, peer: str | None = None) -> Any:
        name = peer or next(iter(self.network.peers))
        return self.network.peers[name].ledger(CHANNEL)

    def record(self, uuid: str, peer: str | None = None) -> dict[str, Any] | None:
        found = self.ledger(peer).state.get(DATA_CC, uuid)
        return None if found is None else dict(json.loads(found.value))

    def locks(self) -> dict[str, list[str]]:
        """Lock entries still in the datalock namespace, per peer."""
        prefix = f"{DATA_CC}::"
        held = {}
        for name in self.network.peers:
            rows = self.ledger(name).state.range(LOCK_CC, prefix, prefix + "\U0010ffff")
            held[name] = [key for key, _ in rows]
        return held

    def tokens(self) -> list[MintedToken]:
        """Every token minted since the scenario started, read from the contract."""
        found = []
        for token_id in range(self.baseline_tokens + 1, self.token.token_count() + 1):
            details = self.token.token_details(token_id)
            try:
                uuids = tuple(json.loads(details["manifest"]).get("uuids", []))
            except ValueError:
                uuids = ()
            balances = self.token.balances(details["issuee"], token_id)
            found.append(
                MintedToken(
                    token_id=token_id,
                    ref=f"{self.token.address}:{token_id}",
                    uuids=uuids,
                    quantity=balances.available + balances.retired,
                    issuee=details["issuee"],
                )
            )
        return found

    def tx_codes(self) -> Counter[str]:
        """Validation codes of every transaction in the first peer's blocks."""
        from harness.fabric.client import code_name
        from harness.fabric.sim._block import tx_filter

        ledger = self.ledger()
        counts: Counter[str] = Counter()
        for number in range(ledger.height):
            for code in tx_filter(ledger.block(number)):
                counts[code_name(code)] += 1
        return counts

    def hsm_tokens(self) -> list[Any]:
        """Every token that holds a key of this network's identities."""
        tokens = {}
        for identity in self._identities():
            token = getattr(identity.signer, "token", None)
            if token is not None:
                tokens[id(token)] = token
        return list(tokens.values())

    def _identities(self) -> list[Any]:
        found = [peer.identity for peer in self.network.peers.values()]
        for user in self.network.spec.users:
            found.append(self.network.user(user.org, user.name))
        return found
